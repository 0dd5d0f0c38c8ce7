// I/O side of the shim: sandboxed files, real TCP sockets, the DLL functions (ShellExecuteW starts real
// processes, SystemFunction036 reads the kernel's random source) and CryptEncode/CryptDecode.

#include "terminal.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

extern char **environ;

using mql_detail::set_last_error;
using mql_terminal::state;

namespace {

using Clock = mql_terminal::Clock;

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left < 0 ? 0 : static_cast<int>(std::min<long long>(left, 1000000));
}

// Wine maps Windows paths the same way: the EA joins POSIX data paths with "\\".
std::string posix_path(std::string path) {
    std::replace(path.begin(), path.end(), '\\', '/');
    return path;
}

bool make_directories(const std::string &directory) {
    std::string partial;
    for (std::size_t i = 0; i <= directory.size(); ++i) {
        if (i == directory.size() || directory[i] == '/') {
            if (!partial.empty() && mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
                return false;
            }
        }
        if (i < directory.size()) {
            partial.push_back(directory[i]);
        }
    }
    return true;
}

// ---------------------------------------------------------------------------------------------------------
// Files

struct OpenFile {
    int fd = -1;
    bool readable = false;
    bool writable = false;
    bool binary = false;
    bool csv = false;
    bool ansi = false;
    uint codepage = CP_ACP;
    char16_t delimiter = '\t';
};

// The object behind an MQL5 handle, or nullptr with the terminal's error for an unknown handle.
template <class T>
T *entry_of(std::map<int, T> &table, int handle, int unknown_handle_error) {
    auto found = table.find(handle);
    if (found == table.end()) {
        set_last_error(unknown_handle_error);
        return nullptr;
    }
    return &found->second;
}

std::map<int, OpenFile> g_files;
int g_next_file = 1;
constexpr std::size_t kMaxOpenFiles = 64;

std::optional<std::string> sandbox_path(const string &name, bool common) {
    const std::string relative = posix_path(name.utf8());
    if (relative.empty() || relative[0] == '/' || (relative.size() > 1 && relative[1] == ':')) {
        return std::nullopt;
    }
    std::string joined;
    std::size_t begin = 0;
    while (begin <= relative.size()) {
        std::size_t end = relative.find('/', begin);
        if (end == std::string::npos) {
            end = relative.size();
        }
        const std::string part = relative.substr(begin, end - begin);
        if (part == "..") {
            return std::nullopt;
        }
        if (!part.empty() && part != ".") {
            joined += "/" + part;
        }
        begin = end + 1;
    }
    if (joined.empty()) {
        return std::nullopt;
    }
    const std::string root = common ? state().common_path + "/Files" : state().data_path + "/MQL5/Files";
    return root + joined;
}

OpenFile *file_of(int handle) { return entry_of(g_files, handle, ERR_INVALID_FILEHANDLE); }

// A file opened for writing (or reading): nullptr with the terminal's error otherwise.
OpenFile *file_for(int handle, bool writing) {
    OpenFile *file = file_of(handle);
    if (file != nullptr && !(writing ? file->writable : file->readable)) {
        set_last_error(writing ? ERR_FILE_NOTTOWRITE : ERR_FILE_NOTTOREAD);
        return nullptr;
    }
    return file;
}

bool write_all(int fd, const char *bytes, std::size_t count) {
    while (count > 0) {
        const ssize_t written = ::write(fd, bytes, count);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        bytes += written;
        count -= static_cast<std::size_t>(written);
    }
    return true;
}

std::string encode_for(const OpenFile &file, const std::u16string &text) {
    if (file.ansi) {
        return mql_detail::encode(text, file.codepage);
    }
    std::string bytes;
    bytes.reserve(text.size() * 2);
    for (char16_t unit : text) {
        bytes.push_back(static_cast<char>(unit & 0xFF));
        bytes.push_back(static_cast<char>(unit >> 8));
    }
    return bytes;
}

// Reads one code unit (one byte for ANSI, two for Unicode); false at the end of the file.
bool read_unit(const OpenFile &file, char16_t &unit) {
    unsigned char bytes[2];
    const std::size_t size = file.ansi ? 1 : 2;
    const ssize_t got = ::read(file.fd, bytes, size);
    if (got != static_cast<ssize_t>(size)) {
        return false;
    }
    unit = file.ansi ? bytes[0] : static_cast<char16_t>(bytes[0] | (bytes[1] << 8));
    return true;
}

std::u16string decode_for(const OpenFile &file, const std::string &bytes) {
    return mql_detail::decode(reinterpret_cast<const unsigned char *>(bytes.data()), bytes.size(), file.codepage);
}

// ---------------------------------------------------------------------------------------------------------
// Sockets

struct SocketState {
    int fd = -1;
    bool connected = false;
    uint send_timeout_ms = 0;
    uint receive_timeout_ms = 0;
};

std::map<int, SocketState> g_sockets;
int g_next_socket = 1;
constexpr std::size_t kMaxSockets = 128;
constexpr uint kDefaultReadTimeoutMs = 120000;
// MetaTrader would block forever in a send with no timeout to a peer that stopped reading; a scenario must
// not hang, so that case ends the run as a failure after this long.
constexpr int kUnboundedSendLimitMs = 30000;

SocketState *socket_of(int handle) { return entry_of(g_sockets, handle, ERR_NETSOCKET_INVALIDHANDLE); }

void drop_connection(SocketState &socket) {
    socket.connected = false;
    if (socket.fd >= 0) {
        ::close(socket.fd);
        socket.fd = -1;
    }
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

// An allowed_urls entry may be a bare host or a URL ("https://host:port/path"), as in the terminal's list.
std::string host_of(std::string entry) {
    const std::size_t scheme = entry.find("://");
    if (scheme != std::string::npos) {
        entry = entry.substr(scheme + 3);
    }
    const std::size_t path = entry.find('/');
    if (path != std::string::npos) {
        entry = entry.substr(0, path);
    }
    if (!entry.empty() && entry[0] == '[') {
        const std::size_t close = entry.find(']');
        return lower(entry.substr(1, close == std::string::npos ? std::string::npos : close - 1));
    }
    const std::size_t colon = entry.find(':');
    if (colon != std::string::npos && entry.find(':', colon + 1) == std::string::npos) {
        entry = entry.substr(0, colon);
    }
    return lower(entry);
}

bool host_allowed(const std::string &host) {
    const std::string wanted = lower(host);
    for (const std::string &entry : state().allowed_hosts) {
        if (host_of(entry) == wanted) {
            return true;
        }
    }
    return false;
}

// True once the peer has closed and every byte it sent has been read.
bool peer_gone(SocketState &socket) {
    pollfd watch{socket.fd, POLLIN, 0};
    if (::poll(&watch, 1, 0) <= 0) {
        return false;
    }
    if (watch.revents & (POLLERR | POLLNVAL)) {
        return true;
    }
    char byte;
    const ssize_t peeked = ::recv(socket.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// ---------------------------------------------------------------------------------------------------------
// Processes

// CommandLineToArgvW's rules: whitespace separates, double quotes group, backslashes escape only quotes.
std::vector<std::string> split_command_line(const std::string &line) {
    std::vector<std::string> args;
    std::size_t i = 0;
    const std::size_t size = line.size();
    while (true) {
        while (i < size && (line[i] == ' ' || line[i] == '\t')) {
            ++i;
        }
        if (i >= size) {
            break;
        }
        std::string current;
        bool quoted = false;
        while (i < size) {
            const char c = line[i];
            if (c == '\\') {
                std::size_t backslashes = 0;
                while (i < size && line[i] == '\\') {
                    ++backslashes;
                    ++i;
                }
                if (i < size && line[i] == '"') {
                    current.append(backslashes / 2, '\\');
                    if (backslashes % 2 == 1) {
                        current.push_back('"');
                        ++i;
                    }
                } else {
                    current.append(backslashes, '\\');
                }
            } else if (c == '"') {
                if (quoted && i + 1 < size && line[i + 1] == '"') {
                    current.push_back('"');
                    i += 2;
                } else {
                    quoted = !quoted;
                    ++i;
                }
            } else if ((c == ' ' || c == '\t') && !quoted) {
                break;
            } else {
                current.push_back(c);
                ++i;
            }
        }
        args.push_back(current);
    }
    return args;
}

std::string shown_command(const std::vector<std::string> &argv) {
    std::string shown;
    for (const std::string &arg : argv) {
        if (!shown.empty()) {
            shown += ' ';
        }
        const bool plain = !arg.empty() && arg.find_first_of(" \t\"'\\$`") == std::string::npos;
        if (plain) {
            shown += arg;
        } else {
            shown += '\'';
            for (char c : arg) {
                shown += c == '\'' ? std::string("'\\''") : std::string(1, c);
            }
            shown += '\'';
        }
    }
    return shown;
}

// ---------------------------------------------------------------------------------------------------------
// SHA-256 (FIPS 180-4) and Base64

constexpr std::array<std::uint32_t, 64> kSha256Rounds = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

std::uint32_t rotate_right(std::uint32_t value, int bits) { return (value >> bits) | (value << (32 - bits)); }

std::vector<uchar> sha256(const std::vector<uchar> &message) {
    std::array<std::uint32_t, 8> hash = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::vector<uchar> padded = message;
    const std::uint64_t bit_length = static_cast<std::uint64_t>(message.size()) * 8;
    padded.push_back(0x80);
    while (padded.size() % 64 != 56) {
        padded.push_back(0);
    }
    for (int shift = 56; shift >= 0; shift -= 8) {
        padded.push_back(static_cast<uchar>(bit_length >> shift));
    }
    for (std::size_t block = 0; block < padded.size(); block += 64) {
        std::array<std::uint32_t, 64> w{};
        for (int t = 0; t < 16; ++t) {
            const uchar *p = &padded[block + static_cast<std::size_t>(t) * 4];
            w[t] = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
        }
        for (int t = 16; t < 64; ++t) {
            const std::uint32_t s0 = rotate_right(w[t - 15], 7) ^ rotate_right(w[t - 15], 18) ^ (w[t - 15] >> 3);
            const std::uint32_t s1 = rotate_right(w[t - 2], 17) ^ rotate_right(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        std::uint32_t a = hash[0], b = hash[1], c = hash[2], d = hash[3];
        std::uint32_t e = hash[4], f = hash[5], g = hash[6], h = hash[7];
        for (int t = 0; t < 64; ++t) {
            const std::uint32_t big_s1 = rotate_right(e, 6) ^ rotate_right(e, 11) ^ rotate_right(e, 25);
            const std::uint32_t choose = (e & f) ^ (~e & g);
            const std::uint32_t temp1 = h + big_s1 + choose + kSha256Rounds[t] + w[t];
            const std::uint32_t big_s0 = rotate_right(a, 2) ^ rotate_right(a, 13) ^ rotate_right(a, 22);
            const std::uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
            const std::uint32_t temp2 = big_s0 + majority;
            h = g;
            g = f;
            f = e;
            e = d + temp1;
            d = c;
            c = b;
            b = a;
            a = temp1 + temp2;
        }
        hash[0] += a;
        hash[1] += b;
        hash[2] += c;
        hash[3] += d;
        hash[4] += e;
        hash[5] += f;
        hash[6] += g;
        hash[7] += h;
    }
    std::vector<uchar> digest;
    for (std::uint32_t word : hash) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            digest.push_back(static_cast<uchar>(word >> shift));
        }
    }
    return digest;
}

constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::vector<uchar> base64_encode(const std::vector<uchar> &data) {
    std::vector<uchar> out;
    for (std::size_t i = 0; i < data.size(); i += 3) {
        const std::uint32_t chunk = (std::uint32_t{data[i]} << 16) |
                                    (i + 1 < data.size() ? std::uint32_t{data[i + 1]} << 8 : 0) |
                                    (i + 2 < data.size() ? std::uint32_t{data[i + 2]} : 0);
        out.push_back(static_cast<uchar>(kBase64Alphabet[(chunk >> 18) & 63]));
        out.push_back(static_cast<uchar>(kBase64Alphabet[(chunk >> 12) & 63]));
        out.push_back(i + 1 < data.size() ? static_cast<uchar>(kBase64Alphabet[(chunk >> 6) & 63]) : '=');
        out.push_back(i + 2 < data.size() ? static_cast<uchar>(kBase64Alphabet[chunk & 63]) : '=');
    }
    return out;
}

bool base64_decode(const std::vector<uchar> &text, std::vector<uchar> &out) {
    std::uint32_t buffer = 0;
    int bits = 0;
    for (uchar c : text) {
        if (c == '=' || c == '\r' || c == '\n') {
            continue;
        }
        const char *found = std::strchr(kBase64Alphabet, c);
        if (c == 0 || found == nullptr) {
            return false;
        }
        buffer = (buffer << 6) | static_cast<std::uint32_t>(found - kBase64Alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<uchar>((buffer >> bits) & 0xFF));
        }
    }
    return true;
}

}  // namespace

// -------------------------------------------------------------------------------------------------------------
// Files

int FileOpen(const string &name, int flags, short delimiter, uint codepage) {
    const std::optional<std::string> path = sandbox_path(name, (flags & FILE_COMMON) != 0);
    if (!path) {
        set_last_error(ERR_WRONG_FILENAME);
        return INVALID_HANDLE;
    }
    const bool readable = (flags & FILE_READ) != 0;
    const bool writable = (flags & FILE_WRITE) != 0;
    if (!readable && !writable) {
        set_last_error(ERR_INVALID_PARAMETER);
        return INVALID_HANDLE;
    }
    if (g_files.size() >= kMaxOpenFiles) {
        set_last_error(ERR_TOO_MANY_FILES);
        return INVALID_HANDLE;
    }
    if (writable && !make_directories(path->substr(0, path->find_last_of('/')))) {
        set_last_error(ERR_CANNOT_OPEN_FILE);
        return INVALID_HANDLE;
    }
    int open_flags = O_CLOEXEC;
    if (readable && writable) {
        open_flags |= O_RDWR | O_CREAT;
    } else if (writable) {
        open_flags |= O_WRONLY | O_CREAT | O_TRUNC;
    } else {
        open_flags |= O_RDONLY;
    }
    // The terminal's data folder belongs to one user, so what the EA writes is private to that user.
    const int fd = ::open(path->c_str(), open_flags, 0600);
    if (fd < 0) {
        set_last_error(ERR_CANNOT_OPEN_FILE);
        return INVALID_HANDLE;
    }
    struct stat info {};
    if (fstat(fd, &info) != 0 || S_ISDIR(info.st_mode)) {
        ::close(fd);
        set_last_error(ERR_FILE_IS_DIRECTORY);
        return INVALID_HANDLE;
    }
    OpenFile file;
    file.fd = fd;
    file.readable = readable;
    file.writable = writable;
    file.binary = (flags & FILE_BIN) != 0;
    file.csv = !file.binary && (flags & FILE_TXT) == 0;
    file.ansi = (flags & FILE_ANSI) != 0;
    file.codepage = codepage;
    file.delimiter = static_cast<char16_t>(delimiter);
    if (!file.binary && !file.ansi) {
        // Unicode text files start with a UTF-16LE byte order mark.
        if (writable && info.st_size == 0) {
            write_all(fd, "\xFF\xFE", 2);
        } else if (readable) {
            unsigned char mark[2] = {0, 0};
            if (::read(fd, mark, 2) != 2 || mark[0] != 0xFF || mark[1] != 0xFE) {
                ::lseek(fd, 0, SEEK_SET);
            }
        }
    }
    const int handle = g_next_file++;
    g_files[handle] = file;
    return handle;
}

int FileOpen(const string &name, int flags, const string &delimiter, uint codepage) {
    const short first = delimiter.utf16().empty() ? short{'\t'} : static_cast<short>(delimiter.utf16()[0]);
    return FileOpen(name, flags, first, codepage);
}

void FileClose(int handle) {
    OpenFile *file = file_of(handle);
    if (file != nullptr) {
        ::close(file->fd);
        g_files.erase(handle);
    }
}

void FileFlush(int handle) { file_of(handle); }

bool FileIsExist(const string &name, int common_flag) {
    const std::optional<std::string> path = sandbox_path(name, (common_flag & FILE_COMMON) != 0);
    struct stat info {};
    if (!path || stat(path->c_str(), &info) != 0) {
        set_last_error(ERR_FILE_NOT_EXIST);
        return false;
    }
    if (S_ISDIR(info.st_mode)) {
        set_last_error(ERR_FILE_IS_DIRECTORY);
        return false;
    }
    return true;
}

bool FileDelete(const string &name, int common_flag) {
    const std::optional<std::string> path = sandbox_path(name, (common_flag & FILE_COMMON) != 0);
    if (!path) {
        set_last_error(ERR_WRONG_FILENAME);
        return false;
    }
    if (::unlink(path->c_str()) != 0) {
        set_last_error(errno == ENOENT ? ERR_FILE_NOT_EXIST : ERR_CANNOT_DELETE_FILE);
        return false;
    }
    return true;
}

ulong FileSize(int handle) {
    OpenFile *file = file_of(handle);
    struct stat info {};
    if (file == nullptr || fstat(file->fd, &info) != 0) {
        return 0;
    }
    return static_cast<ulong>(info.st_size);
}

ulong FileTell(int handle) {
    OpenFile *file = file_of(handle);
    if (file == nullptr) {
        return 0;
    }
    const off_t position = ::lseek(file->fd, 0, SEEK_CUR);
    return position < 0 ? 0 : static_cast<ulong>(position);
}

bool FileSeek(int handle, long offset, int origin) {
    OpenFile *file = file_of(handle);
    if (file == nullptr) {
        return false;
    }
    return ::lseek(file->fd, static_cast<off_t>(offset), origin) >= 0;
}

bool FileIsEnding(int handle) {
    OpenFile *file = file_of(handle);
    if (file == nullptr) {
        return true;
    }
    return FileTell(handle) >= FileSize(handle);
}

uint FileWriteString(int handle, const string &text, int length) {
    OpenFile *file = file_for(handle, true);
    if (file == nullptr) {
        return 0;
    }
    std::u16string units = text.utf16();
    if (length >= 0 && static_cast<std::size_t>(length) < units.size()) {
        units.resize(static_cast<std::size_t>(length));
    }
    const std::string bytes = encode_for(*file, units);
    if (!write_all(file->fd, bytes.data(), bytes.size())) {
        set_last_error(ERR_FILE_WRITEERROR);
        return 0;
    }
    return static_cast<uint>(bytes.size());
}

string FileReadString(int handle, int length) {
    OpenFile *file = file_for(handle, false);
    if (file == nullptr) {
        return string();
    }
    std::u16string units;
    char16_t unit = 0;
    if (file->binary) {
        if (length < 0) {
            set_last_error(ERR_FILE_BINSTRINGSIZE);
            return string();
        }
        while (static_cast<int>(units.size()) < length && read_unit(*file, unit)) {
            units.push_back(unit);
        }
    } else {
        bool any = false;
        while (read_unit(*file, unit)) {
            any = true;
            if (unit == '\n' || (file->csv && unit == file->delimiter)) {
                break;
            }
            units.push_back(unit);
        }
        if (!units.empty() && units.back() == '\r') {
            units.pop_back();
        }
        if (!any) {
            set_last_error(ERR_FILE_ENDOFFILE);
        }
    }
    if (file->ansi) {
        std::string bytes(units.begin(), units.end());
        return string::from_utf16(decode_for(*file, bytes));
    }
    return string::from_utf16(units);
}

namespace mql_detail {

uint file_write_bytes(int handle, const unsigned char *bytes, std::size_t count) {
    OpenFile *file = file_for(handle, true);
    if (file == nullptr) {
        return 0;
    }
    if (!write_all(file->fd, reinterpret_cast<const char *>(bytes), count)) {
        set_last_error(ERR_FILE_WRITEERROR);
        return 0;
    }
    return static_cast<uint>(count);
}

std::vector<uchar> file_read_bytes(int handle, std::size_t count, bool &ok) {
    std::vector<uchar> bytes;
    OpenFile *file = file_for(handle, false);
    ok = false;
    if (file == nullptr) {
        return bytes;
    }
    unsigned char chunk[4096];
    while (bytes.size() < count) {
        const std::size_t wanted = std::min(sizeof chunk, count - bytes.size());
        const ssize_t got = ::read(file->fd, chunk, wanted);
        if (got <= 0) {
            break;
        }
        bytes.insert(bytes.end(), chunk, chunk + got);
    }
    ok = true;
    return bytes;
}

uint file_write_line(int handle, const std::vector<std::u16string> &fields) {
    OpenFile *file = file_of(handle);
    if (file == nullptr) {
        return 0;
    }
    std::u16string line;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) {
            line.push_back(file->delimiter);
        }
        line += fields[i];
    }
    line += u"\r\n";
    return FileWriteString(handle, string::from_utf16(line));
}

}  // namespace mql_detail

// -------------------------------------------------------------------------------------------------------------
// Sockets

int SocketCreate(uint) {
    if (state().mode != mql_terminal::State::Mode::live) {
        // Network functions do not work in the Strategy Tester.
        set_last_error(ERR_FUNCTION_NOT_ALLOWED);
        return INVALID_HANDLE;
    }
    if (g_sockets.size() >= kMaxSockets) {
        set_last_error(ERR_NETSOCKET_TOO_MANY_OPENED);
        return INVALID_HANDLE;
    }
    const int handle = g_next_socket++;
    g_sockets[handle] = SocketState{};
    return handle;
}

bool SocketClose(int socket) {
    SocketState *state_of = socket_of(socket);
    if (state_of == nullptr) {
        return false;
    }
    drop_connection(*state_of);
    g_sockets.erase(socket);
    return true;
}

bool SocketConnect(int socket, const string &server, uint port, uint timeout_receive_ms) {
    SocketState *connection = socket_of(socket);
    if (connection == nullptr) {
        return false;
    }
    const std::string host = server.utf8();
    if (!host_allowed(host)) {
        set_last_error(state().not_allowed_error);
        return false;
    }
    if (connection->connected) {
        set_last_error(ERR_NETSOCKET_CANNOT_CONNECT);
        return false;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *addresses = nullptr;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addresses) != 0) {
        set_last_error(ERR_NETSOCKET_CANNOT_CONNECT);
        return false;
    }
    const uint timeout_ms = timeout_receive_ms == 0 ? kDefaultReadTimeoutMs : timeout_receive_ms;
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    bool connected = false;
    for (addrinfo *address = addresses; address != nullptr && !connected; address = address->ai_next) {
        const int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            continue;
        }
        int result = ::connect(fd, address->ai_addr, address->ai_addrlen);
        if (result != 0 && errno == EINPROGRESS) {
            pollfd watch{fd, POLLOUT, 0};
            int error = 0;
            socklen_t length = sizeof error;
            if (::poll(&watch, 1, remaining_ms(deadline)) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0) {
                result = 0;
            }
        }
        if (result == 0) {
            connection->fd = fd;
            connection->connected = true;
            connected = true;
        } else {
            ::close(fd);
        }
    }
    freeaddrinfo(addresses);
    if (!connected) {
        set_last_error(ERR_NETSOCKET_CANNOT_CONNECT);
    }
    return connected;
}

bool SocketIsConnected(int socket) {
    SocketState *connection = socket_of(socket);
    if (connection == nullptr || !connection->connected) {
        return false;
    }
    if (peer_gone(*connection)) {
        drop_connection(*connection);
        return false;
    }
    return true;
}

uint SocketIsReadable(int socket) {
    SocketState *connection = socket_of(socket);
    if (connection == nullptr) {
        return 0;
    }
    if (!connection->connected) {
        set_last_error(ERR_NETSOCKET_IO_ERROR);
        return 0;
    }
    int available = 0;
    if (::ioctl(connection->fd, FIONREAD, &available) != 0) {
        drop_connection(*connection);
        set_last_error(ERR_NETSOCKET_IO_ERROR);
        return 0;
    }
    if (available == 0 && peer_gone(*connection)) {
        drop_connection(*connection);
        set_last_error(ERR_NETSOCKET_IO_ERROR);
        return 0;
    }
    if (available == 0 && state().speculative_readable) {
        // MetaTrader answers 1 for an empty buffer and leaves the real check to the next read, which then waits
        // for its timeout and returns -1 with the connection still up (MQL5 book, "Checking socket status").
        return 1;
    }
    return static_cast<uint>(available);
}

bool SocketIsWritable(int socket) {
    SocketState *connection = socket_of(socket);
    if (connection == nullptr || !connection->connected) {
        return false;
    }
    pollfd watch{connection->fd, POLLOUT, 0};
    return ::poll(&watch, 1, 0) == 1 && (watch.revents & POLLOUT) != 0;
}

bool SocketTimeouts(int socket, uint timeout_send_ms, uint timeout_receive_ms) {
    SocketState *connection = socket_of(socket);
    if (connection == nullptr) {
        return false;
    }
    connection->send_timeout_ms = timeout_send_ms;
    connection->receive_timeout_ms = timeout_receive_ms;
    return true;
}

namespace mql_detail {

int socket_send(int socket, const unsigned char *bytes, uint length) {
    SocketState *connection = socket_of(socket);
    if (connection == nullptr) {
        return -1;
    }
    if (!connection->connected) {
        set_last_error(ERR_NETSOCKET_IO_ERROR);
        return -1;
    }
    const bool bounded = connection->send_timeout_ms > 0;
    const int limit_ms = bounded ? static_cast<int>(connection->send_timeout_ms) : kUnboundedSendLimitMs;
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(limit_ms);
    uint sent = 0;
    while (sent < length) {
        const ssize_t written = ::send(connection->fd, bytes + sent, length - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (written > 0) {
            sent += static_cast<uint>(written);
            continue;
        }
        if (written < 0 && errno == EINTR) {
            continue;
        }
        if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            drop_connection(*connection);
            set_last_error(ERR_NETSOCKET_IO_ERROR);
            return -1;
        }
        pollfd watch{connection->fd, POLLOUT, 0};
        if (::poll(&watch, 1, remaining_ms(deadline)) <= 0) {
            if (!bounded) {
                throw MqlCriticalError("SocketSend blocked for " + std::to_string(kUnboundedSendLimitMs / 1000) +
                                       " s without a send timeout (SocketTimeouts): MetaTrader would hang here");
            }
            break;
        }
    }
    if (sent == 0 && length > 0) {
        set_last_error(ERR_NETSOCKET_IO_ERROR);
        return -1;
    }
    return static_cast<int>(sent);
}

int socket_read(int socket, std::vector<unsigned char> &bytes, uint max_length, uint timeout_ms) {
    SocketState *connection = socket_of(socket);
    if (connection == nullptr) {
        return -1;
    }
    if (!connection->connected) {
        set_last_error(ERR_NETSOCKET_IO_ERROR);
        return -1;
    }
    if (max_length == 0 || max_length > static_cast<uint>(INT_MAX)) {
        set_last_error(ERR_INVALID_PARAMETER);
        return -1;
    }
    const uint wait_ms = timeout_ms == 0 ? kDefaultReadTimeoutMs : timeout_ms;
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(wait_ms);
    while (true) {
        pollfd watch{connection->fd, POLLIN, 0};
        const int ready = ::poll(&watch, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            set_last_error(ERR_NETSOCKET_IO_ERROR);
            return -1;
        }
        break;
    }
    bytes.resize(max_length);
    const ssize_t received = ::recv(connection->fd, bytes.data(), max_length, MSG_DONTWAIT);
    if (received <= 0) {
        drop_connection(*connection);
        set_last_error(ERR_NETSOCKET_IO_ERROR);
        return -1;
    }
    bytes.resize(static_cast<std::size_t>(received));
    return static_cast<int>(received);
}

// -------------------------------------------------------------------------------------------------------------
// DLL functions and crypto

void require_dlls(const char *library, const char *function) {
    if (!state().dlls_allowed) {
        throw MqlCriticalError(std::string("DLL call not allowed: cannot call '") + library + "::" + function +
                               "' because DLL imports are disabled for this program");
    }
}

bool fill_random(unsigned char *buffer, std::size_t length) {
    std::size_t filled = 0;
    while (filled < length) {
        const ssize_t got = getrandom(buffer + filled, length - filled, 0);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        filled += static_cast<std::size_t>(got);
    }
    return true;
}

bool crypt_encode(ENUM_CRYPT_METHOD method, const std::vector<uchar> &data, const std::vector<uchar> &,
                  std::vector<uchar> &result) {
    switch (method) {
        case CRYPT_HASH_SHA256:
            result = sha256(data);
            return true;
        case CRYPT_BASE64:
            result = base64_encode(data);
            return true;
        default:
            set_last_error(ERR_INVALID_PARAMETER);
            return false;
    }
}

bool crypt_decode(ENUM_CRYPT_METHOD method, const std::vector<uchar> &data, const std::vector<uchar> &,
                  std::vector<uchar> &result) {
    if (method == CRYPT_BASE64 && base64_decode(data, result)) {
        return true;
    }
    set_last_error(ERR_INVALID_PARAMETER);
    return false;
}

}  // namespace mql_detail

int ShellExecuteW(long, const string &operation, const string &file, const string &parameters,
                  const string &directory, int) {
    mql_detail::require_dlls("shell32.dll", "ShellExecuteW");
    const std::string verb = lower(operation.utf8());
    if (!verb.empty() && verb != "open") {
        mql_terminal::record(mql_terminal::EventKind::shell,
                             "ShellExecuteW failed (operation '" + verb + "' is not supported): " + file.utf8());
        return SE_ERR_NOASSOC;
    }
    std::vector<std::string> argv{posix_path(file.utf8())};
    for (const std::string &arg : split_command_line(parameters.utf8())) {
        argv.push_back(posix_path(arg));
    }
    const std::string command = shown_command(argv);
    const std::string working_directory = posix_path(directory.utf8());
    struct stat info {};
    if (!working_directory.empty() && (stat(working_directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))) {
        mql_terminal::record(mql_terminal::EventKind::shell,
                             "ShellExecuteW failed (no directory " + working_directory + "): " + command);
        return SE_ERR_PNF;
    }

    mql_terminal::State &terminal = state();
    const int number = ++terminal.process_counter;
    const std::string program = argv[0];
    const std::string base = program.substr(program.find_last_of('/') + 1);
    const std::string output_directory = terminal.run_dir + "/processes";
    make_directories(output_directory);
    const std::string output_prefix = output_directory + "/" + std::to_string(number) + "-" + base;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, (output_prefix + ".stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, (output_prefix + ".stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!working_directory.empty()) {
        posix_spawn_file_actions_addchdir_np(&actions, working_directory.c_str());
    }
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int signal_number : {SIGPIPE, SIGINT, SIGTERM, SIGFPE, SIGHUP, SIGQUIT}) {
        sigaddset(&defaults, signal_number);
    }
    sigset_t no_mask;
    sigemptyset(&no_mask);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setsigmask(&attributes, &no_mask);
    // Its own process group, so that stopping or killing "the sidecar" also reaches anything it started.
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

    std::vector<char *> raw_argv;
    for (std::string &arg : argv) {
        raw_argv.push_back(arg.data());
    }
    raw_argv.push_back(nullptr);
    pid_t pid = 0;
    const int error = posix_spawnp(&pid, program.c_str(), &actions, &attributes, raw_argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (error != 0) {
        mql_terminal::record(mql_terminal::EventKind::shell,
                             "ShellExecuteW failed (" + std::string(std::strerror(error)) + "): " + command);
        return SE_ERR_FNF;
    }
    terminal.processes.push_back(mql_terminal::Process{pid, command, true, 0});
    mql_terminal::record(mql_terminal::EventKind::shell,
                         "ShellExecuteW started pid " + std::to_string(pid) + ": " + command);
    return 42;
}

// -------------------------------------------------------------------------------------------------------------
// Processes and clean-up

namespace mql_terminal {

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) {
        return "exit status " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        const char *name = sigabbrev_np(WTERMSIG(status));
        return "killed by signal " + std::to_string(WTERMSIG(status)) + (name ? std::string(" (SIG") + name + ")" : "");
    }
    return "status " + std::to_string(status);
}

namespace {

void collect(Process &process, int status) {
    process.running = false;
    process.wait_status = status;
    record(EventKind::process, "process " + std::to_string(process.pid) + " ended: " + describe_wait_status(status));
}

}  // namespace

void reap_processes() {
    for (Process &process : state().processes) {
        int status = 0;
        if (process.running && ::waitpid(process.pid, &status, WNOHANG) == process.pid) {
            collect(process, status);
        }
    }
}

void signal_processes(int signal_number, bool wait) {
    for (Process &process : state().processes) {
        if (!process.running) {
            continue;
        }
        if (::kill(-process.pid, signal_number) != 0) {
            ::kill(process.pid, signal_number);
        }
        record(EventKind::process, std::string("sent SIG") + sigabbrev_np(signal_number) + " to pid " +
                                     std::to_string(process.pid));
        int status = 0;
        if (wait && ::waitpid(process.pid, &status, 0) == process.pid) {
            collect(process, status);
        }
    }
}

void terminate_processes(int grace_ms) {
    reap_processes();
    const bool any_running = std::any_of(state().processes.begin(), state().processes.end(),
                                         [](const Process &process) { return process.running; });
    if (!any_running) {
        return;
    }
    signal_processes(SIGTERM, false);
    // A stopped process only acts on SIGTERM once it runs again.
    for (const Process &process : state().processes) {
        if (process.running) {
            ::kill(-process.pid, SIGCONT);
        }
    }
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(grace_ms);
    while (Clock::now() < deadline) {
        reap_processes();
        if (std::none_of(state().processes.begin(), state().processes.end(),
                         [](const Process &process) { return process.running; })) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    signal_processes(SIGKILL, true);
}

void close_all_handles() {
    for (auto &entry : g_files) {
        ::close(entry.second.fd);
    }
    g_files.clear();
    for (auto &entry : g_sockets) {
        drop_connection(entry.second);
    }
    g_sockets.clear();
}

}  // namespace mql_terminal
