//+------------------------------------------------------------------+
//|                                                        Cases.mqh |
//| The parts of the shim the self-test can exercise, one per run.   |
//+------------------------------------------------------------------+
#property strict

//--- which part of the shim a run exercises
enum ENUM_SELFTEST_CASE
  {
   CASE_STRINGS,              // string functions and conversions
   CASE_FORMAT,               // StringFormat / PrintFormat
   CASE_UTF8,                 // UTF-8 and ANSI round trips
   CASE_ARRAYS,               // dynamic and fixed arrays
   CASE_MATH,                 // math functions and constants
   CASE_TIME,                 // time functions
   CASE_CRYPTO,               // SHA-256, Base64, RtlGenRandom
   CASE_INPUTS,               // input values as set by the runner
   CASE_INFO = 20,            // terminal, account and symbol information
   CASE_FILES,                // sandboxed files
   CASE_SOCKETS,              // TCP sockets
   CASE_SHELL,                // ShellExecuteW, checking the DLL permission first
   CASE_DLL_UNCHECKED,        // ShellExecuteW without checking the permission
   CASE_TRADES,               // trade transactions, positions and deal history
   CASE_TIMER,                // timer coalescing
   CASE_REMOVE,               // ExpertRemove from OnTimer
   CASE_INIT_FAILED,          // OnInit refuses its parameters
   CASE_ARRAY_OUT_OF_RANGE,   // critical error: array index out of range
   CASE_ZERO_DIVIDE,          // critical error: integer division by zero
  };
