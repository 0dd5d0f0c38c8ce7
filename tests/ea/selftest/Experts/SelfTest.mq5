//+------------------------------------------------------------------+
//|                                                     SelfTest.mq5 |
//| Exercises the MQL5 runtime shim of the EA test harness: one case |
//| per run, chosen by an input. tests/ea/test_shim.py checks what   |
//| it prints.                                                       |
//+------------------------------------------------------------------+
#property copyright "CSMultiConnector"
#property version   "1.00"
#property description "Self-test of the MQL5 runtime shim"
#property strict

#include <SelfTest\Cases.mqh>

input group "Case"
input ENUM_SELFTEST_CASE InpCase = CASE_STRINGS; // Case to run
input group "Network and processes"
input string InpHost = "127.0.0.1";               // Echo server host
input int    InpPort = 0;                          // Echo server port
input int    InpRefusedPort = 0;                   // A port nobody listens on
input string InpProgram = "";                      // Program for ShellExecuteW
input string InpParameters = "";                   // Its parameters
input group "Echoed back by CASE_INPUTS"
input double InpRatio = 0.5;                       // A double
input bool   InpFlag = false;                      // A bool
input long   InpBig = 0;                           // A long
input ulong  InpMagic = 0;                         // A ulong
sinput uint  InpTimerMs = 200;                     // Timer period (CASE_TIMER)

#include <SelfTest/Checks.mqh>

int g_timer_calls = 0;

//+------------------------------------------------------------------+
int OnInit()
  {
   Print("OnInit case=", EnumToString(InpCase));
   switch(InpCase)
     {
      case CASE_STRINGS:
         RunStrings();
         break;
      case CASE_FORMAT:
         RunFormat();
         break;
      case CASE_UTF8:
         RunUtf8();
         break;
      case CASE_ARRAYS:
         RunArrays();
         break;
      case CASE_MATH:
         RunMath();
         break;
      case CASE_TIME:
         RunTime();
         break;
      case CASE_CRYPTO:
         RunCrypto();
         break;
      case CASE_INPUTS:
         Print("Inputs=", InpHost, "|", InpPort, "|", InpRatio, "|", InpFlag, "|", InpBig, "|", InpMagic, "|",
               InpTimerMs, "|", InpProgram);
         break;
      case CASE_INFO:
         RunInfo();
         break;
      case CASE_FILES:
         RunFiles();
         break;
      case CASE_SOCKETS:
         RunSockets();
         break;
      case CASE_SHELL:
         RunShell(true);
         break;
      case CASE_DLL_UNCHECKED:
         RunShell(false);
         break;
      case CASE_TRADES:
         StartTrades();
         break;
      case CASE_TIMER:
         EventSetMillisecondTimer((int)InpTimerMs);
         break;
      case CASE_REMOVE:
         EventSetMillisecondTimer(50);
         break;
      case CASE_INIT_FAILED:
         return(INIT_PARAMETERS_INCORRECT);
      case CASE_ARRAY_OUT_OF_RANGE:
         RunArrayOutOfRange();
         break;
      case CASE_ZERO_DIVIDE:
        {
         int zero = (int)StringToInteger("0");
         Print("quotient ", 10 / zero);
         break;
        }
     }
   return(INIT_SUCCEEDED);
  }

//+------------------------------------------------------------------+
void OnDeinit(const int reason)
  {
   if(InpCase == CASE_TRADES)
      FinishTrades();
   Print("OnDeinit reason=", reason, " UninitializeReason=", UninitializeReason(), " IsStopped=", IsStopped());
  }

//+------------------------------------------------------------------+
void OnTimer()
  {
   g_timer_calls++;
   uint started = GetTickCount();
   if(InpCase == CASE_TIMER && g_timer_calls == 2)
     {
      //--- block for three and a half periods: the ticks missed meanwhile must collapse into one call
      while(GetTickCount() - started < InpTimerMs * 7 / 2)
         ;
     }
   if(InpCase == CASE_REMOVE && g_timer_calls == 3)
     {
      ExpertRemove();
      Print("ExpertRemove called, IsStopped=", IsStopped());
     }
   Print("timer ", g_timer_calls, " ", started, " ", GetTickCount());
  }

//+------------------------------------------------------------------+
void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request, const MqlTradeResult &result)
  {
   if(InpCase == CASE_TRADES)
      ReportTransaction(trans);
  }

//+------------------------------------------------------------------+
void OnTrade()
  {
   if(InpCase == CASE_TRADES)
      Print("OnTrade");
  }
//+------------------------------------------------------------------+
