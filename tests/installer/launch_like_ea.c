/* Does what the EA's CSidecarLauncher (mql5/Include/CSMultiConnector/Launcher.mqh) does when it starts the
 * sidecar: writes the session token to MQL5\Files\CSMultiConnector\sidecar-<port>.token inside the terminal's
 * data folder, builds the same command line, and calls ShellExecuteW(0, "open", command, parameters, "", 0).
 *
 *   launch_like_ea.exe <data folder (TERMINAL_DATA_PATH)> <port> <token> [command, default csmc] [profile]
 *
 * Prints ShellExecute's result; exits 0 when it is above 32 (started), 1 otherwise. */
#include <windows.h>
#include <shellapi.h>
#include <stdio.h>
#include <wchar.h>

int wmain(int argc, wchar_t **argv)
{
    if (argc < 4) {
        fwprintf(stderr, L"usage: launch_like_ea <data folder> <port> <token> [command] [profile]\n");
        return 2;
    }
    const wchar_t *data = argv[1], *port = argv[2], *token = argv[3];
    const wchar_t *command = argc > 4 ? argv[4] : L"csmc";
    const wchar_t *profile = argc > 5 ? argv[5] : L"default";

    wchar_t folder[1024], token_path[1024], parameters[4096];
    swprintf(folder, 1024, L"%ls\\MQL5\\Files\\CSMultiConnector", data);
    CreateDirectoryW(folder, NULL);
    swprintf(token_path, 1024, L"%ls\\sidecar-%ls.token", folder, port);

    /* FileOpen(FILE_WRITE|FILE_TXT|FILE_ANSI) + FileWriteString: the token's ASCII characters, no newline */
    HANDLE file = CreateFileW(token_path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE) {
        fwprintf(stderr, L"cannot write %ls\n", token_path);
        return 2;
    }
    char ascii[256];
    int length = WideCharToMultiByte(CP_ACP, 0, token, -1, ascii, sizeof ascii, NULL, NULL) - 1;
    DWORD written = 0;
    WriteFile(file, ascii, (DWORD)length, &written, NULL);
    CloseHandle(file);

    /* CSidecarLauncher::Parameters() */
    swprintf(parameters, 4096, L"run --port %ls --connector paper --profile %ls --token-file \"%ls\"",
             port, profile, token_path);
    INT_PTR result = (INT_PTR)ShellExecuteW(NULL, L"open", command, parameters, L"", 0 /* SW_HIDE */);
    wprintf(L"ShellExecute %ls %ls -> %lld\n", command, parameters, (long long)result);
    return result > 32 ? 0 : 1;
}
