// The MQL5 runtime shim: compiled MQL5 code sees this header first (g++ -include), so the MQL5 types,
// constants and functions are there as in MetaTrader 5. See tests/ea/README.md for what is supported.
#pragma once

#include "mql5_core.h"
#include "mql5_string.h"
#include "mql5_array.h"
#include "mql5_text.h"
#include "mql5_api.h"
