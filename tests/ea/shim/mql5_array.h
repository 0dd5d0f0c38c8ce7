// MQL5 dynamic arrays (`T name[]` becomes `MqlArray<T> name`) and the Array* functions, which also accept
// fixed-size C arrays `T name[N]` as MQL5 does.
#pragma once

#include "mql5_core.h"

#include <algorithm>
#include <deque>
#include <source_location>
#include <type_traits>
#include <vector>

namespace mql_detail {

[[noreturn]] void array_out_of_range(const std::source_location &where, long index, long size);

}  // namespace mql_detail

// An index into an MqlArray, remembering where in the MQL5 source it was written so that an out-of-range
// access is reported like the terminal does: "array out of range in 'File.mq5' (line,column)".
struct MqlIndex {
    template <class I, std::enable_if_t<(std::is_integral_v<I> && !std::is_same_v<I, bool>) || std::is_enum_v<I> ||
                                            std::is_floating_point_v<I>,
                                        int> = 0>
    MqlIndex(I index, std::source_location location = std::source_location::current())
        : value(static_cast<long>(index)), where(location) {}

    long value;
    std::source_location where;
};

template <class T>
class MqlArray {
    // std::vector<bool> hands out proxies, not bool&; MQL5 code takes references to elements.
    using Storage = std::conditional_t<std::is_same_v<T, bool>, std::deque<bool>, std::vector<T>>;

public:
    using value_type = T;

    MqlArray() = default;
    // MQL5 passes fixed-size arrays to `const T &a[]` parameters too; C++ binds such a parameter to a copy.
    template <std::size_t N>
    MqlArray(const T (&fixed)[N]) : m_items(fixed, fixed + N) {}

    T &operator[](MqlIndex index) { return m_items[checked(index)]; }
    const T &operator[](MqlIndex index) const { return m_items[checked(index)]; }

    int count() const { return static_cast<int>(m_items.size()); }
    void resize(std::size_t size) { m_items.resize(size); }
    void reserve_extra(int extra) {
        if constexpr (!std::is_same_v<T, bool>) {
            if (extra > 0) {
                m_items.reserve(m_items.size() + static_cast<std::size_t>(extra));
            }
        }
    }
    void clear() {
        Storage empty;
        m_items.swap(empty);
    }
    T &at_unchecked(std::size_t index) { return m_items[index]; }
    const T &at_unchecked(std::size_t index) const { return m_items[index]; }
    Storage &items() { return m_items; }
    const Storage &items() const { return m_items; }

private:
    std::size_t checked(const MqlIndex &index) const {
        if (index.value < 0 || index.value >= static_cast<long>(m_items.size())) {
            mql_detail::array_out_of_range(index.where, index.value, static_cast<long>(m_items.size()));
        }
        return static_cast<std::size_t>(index.value);
    }

    Storage m_items;
};

namespace mql_detail {

template <class A>
struct array_traits {
    static constexpr bool is_array = false;
};

template <class T>
struct array_traits<MqlArray<T>> {
    static constexpr bool is_array = true;
    static constexpr bool is_dynamic = true;
    using element = T;
    static int size(const MqlArray<T> &array) { return array.count(); }
    static bool resize(MqlArray<T> &array, int size) {
        array.resize(static_cast<std::size_t>(size));
        return true;
    }
    static T &at(MqlArray<T> &array, int index) { return array.at_unchecked(static_cast<std::size_t>(index)); }
    static const T &at(const MqlArray<T> &array, int index) { return array.at_unchecked(static_cast<std::size_t>(index)); }
};

template <class T, std::size_t N>
struct array_traits<T[N]> {
    static constexpr bool is_array = !std::is_array_v<T>;  // one dimension only
    static constexpr bool is_dynamic = false;
    using element = T;
    static int size(const T (&)[N]) { return static_cast<int>(N); }
    static bool resize(T (&)[N], int) { return false; }
    static T &at(T (&array)[N], int index) { return array[index]; }
    static const T &at(const T (&array)[N], int index) { return array[index]; }
};

template <class A>
using array_of = array_traits<std::remove_cv_t<std::remove_reference_t<A>>>;

template <class A>
concept mql_array = array_of<A>::is_array;

template <class A, class E>
concept array_of_element = mql_array<A> && std::is_same_v<typename array_of<A>::element, E>;

template <class A>
concept numeric_array = mql_array<A> && (std::is_arithmetic_v<typename array_of<A>::element> ||
                                         std::is_enum_v<typename array_of<A>::element>);

void set_last_error(int code);

}  // namespace mql_detail

template <class T>
int ArrayResize(MqlArray<T> &array, int new_size, int reserve_size = 0) {
    if (new_size < 0) {
        mql_detail::set_last_error(ERR_ARRAY_RESIZE_ERROR);
        return -1;
    }
    array.reserve_extra(reserve_size);
    array.resize(static_cast<std::size_t>(new_size));
    return new_size;
}

template <class A>
    requires mql_detail::mql_array<A>
int ArraySize(const A &array) {
    return mql_detail::array_of<A>::size(array);
}

// Multi-dimensional fixed arrays count all their elements, as in MQL5.
template <class T, std::size_t N, std::size_t M>
int ArraySize(const T (&)[N][M]) {
    return static_cast<int>(sizeof(T[N][M]) / sizeof(std::remove_all_extents_t<T>));
}

template <class A>
    requires mql_detail::mql_array<A>
bool ArrayIsDynamic(const A &) {
    return mql_detail::array_of<A>::is_dynamic;
}

template <class T>
void ArrayFree(MqlArray<T> &array) {
    array.clear();
}

template <class D, class S>
    requires mql_detail::mql_array<D> && mql_detail::mql_array<S>
int ArrayCopy(D &destination, const S &source, int destination_start = 0, int source_start = 0,
              int count = WHOLE_ARRAY) {
    using DT = mql_detail::array_of<D>;
    using ST = mql_detail::array_of<S>;
    const int source_size = ST::size(source);
    if (destination_start < 0 || source_start < 0) {
        mql_detail::set_last_error(ERR_INVALID_PARAMETER);
        return 0;
    }
    if (source_start >= source_size) {
        return 0;
    }
    if (count < 0 || count > source_size - source_start) {
        count = source_size - source_start;
    }
    if (destination_start + count > DT::size(destination)) {
        if constexpr (DT::is_dynamic) {
            DT::resize(destination, destination_start + count);
        } else {
            count = std::max(0, DT::size(destination) - destination_start);
        }
    }
    // Copying within one array must behave like memmove.
    if (static_cast<const void *>(&destination) == static_cast<const void *>(&source) && destination_start > source_start) {
        for (int i = count - 1; i >= 0; --i) {
            DT::at(destination, destination_start + i) = ST::at(source, source_start + i);
        }
    } else {
        for (int i = 0; i < count; ++i) {
            DT::at(destination, destination_start + i) = ST::at(source, source_start + i);
        }
    }
    return count;
}

template <class A, class V>
    requires mql_detail::numeric_array<A>
int ArrayInitialize(A &array, V value) {
    using AT = mql_detail::array_of<A>;
    const int size = AT::size(array);
    for (int i = 0; i < size; ++i) {
        AT::at(array, i) = static_cast<typename AT::element>(value);
    }
    return size;
}

template <class A, class V>
    requires mql_detail::numeric_array<A>
void ArrayFill(A &array, int start, int count, V value) {
    using AT = mql_detail::array_of<A>;
    if (start < 0 || count < 0) {
        mql_detail::set_last_error(ERR_INVALID_PARAMETER);
        return;
    }
    if (start + count > AT::size(array)) {
        if constexpr (AT::is_dynamic) {
            AT::resize(array, start + count);
        } else {
            count = std::max(0, AT::size(array) - start);
        }
    }
    for (int i = 0; i < count; ++i) {
        AT::at(array, start + i) = static_cast<typename AT::element>(value);
    }
}

template <class T>
bool ArrayRemove(MqlArray<T> &array, uint start, uint count = WHOLE_ARRAY) {
    const uint size = static_cast<uint>(array.count());
    if (start >= size) {
        mql_detail::set_last_error(ERR_INVALID_PARAMETER);
        return false;
    }
    if (count == static_cast<uint>(WHOLE_ARRAY) || count > size - start) {
        count = size - start;
    }
    auto &items = array.items();
    items.erase(items.begin() + start, items.begin() + start + count);
    return true;
}

template <class A>
    requires mql_detail::numeric_array<A>
bool ArraySort(A &array) {
    using AT = mql_detail::array_of<A>;
    const int size = AT::size(array);
    if (size == 0) {
        return true;
    }
    if constexpr (AT::is_dynamic) {
        std::sort(array.items().begin(), array.items().end());
    } else {
        std::sort(&AT::at(array, 0), &AT::at(array, 0) + size);
    }
    return true;
}
