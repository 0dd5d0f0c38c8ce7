//+------------------------------------------------------------------+
//|                                                     Terminal.mqh |
//| Cases of the shim self-test that use the scripted terminal:      |
//| information, files, sockets, processes and the account.          |
//+------------------------------------------------------------------+
#property strict

#import "shell32.dll"
int ShellExecuteW(int hwnd, string operation, string file, string parameters, string directory, int show);
#import "advapi32.dll"
bool SystemFunction036(uchar &buffer[], uint length);
#import

//+------------------------------------------------------------------+
void RunInfo()
  {
   Print("Account=", AccountInfoInteger(ACCOUNT_LOGIN), "|", AccountInfoString(ACCOUNT_SERVER), "|",
         AccountInfoString(ACCOUNT_CURRENCY), "|", AccountInfoString(ACCOUNT_COMPANY), "|",
         AccountInfoString(ACCOUNT_NAME), "|", AccountInfoInteger(ACCOUNT_MARGIN_MODE), "|",
         AccountInfoInteger(ACCOUNT_TRADE_MODE), "|", AccountInfoDouble(ACCOUNT_BALANCE));
   Print("Terminal=", TerminalInfoInteger(TERMINAL_DLLS_ALLOWED), TerminalInfoInteger(TERMINAL_CONNECTED),
         TerminalInfoInteger(TERMINAL_TRADE_ALLOWED), "|", MQLInfoInteger(MQL_DLLS_ALLOWED), "|",
         MQLInfoString(MQL_PROGRAM_NAME));
   Print("DataPath=", TerminalInfoString(TERMINAL_DATA_PATH));
   Print("CommonPath=", TerminalInfoString(TERMINAL_COMMONDATA_PATH));
   Print("TerminalPath=", TerminalInfoString(TERMINAL_PATH));
   Print("Chart=", Symbol(), "|", _Symbol, "|", ChartID() != 0, "|", _Digits);
   string symbol = "EURUSD.m";
   Print("Symbol=", SymbolInfoDouble(symbol, SYMBOL_TRADE_CONTRACT_SIZE), "|", SymbolInfoDouble(symbol, SYMBOL_VOLUME_STEP),
         "|", SymbolInfoDouble(symbol, SYMBOL_VOLUME_MIN), "|", SymbolInfoDouble(symbol, SYMBOL_VOLUME_MAX), "|",
         SymbolInfoDouble(symbol, SYMBOL_BID), "|", SymbolInfoDouble(symbol, SYMBOL_ASK), "|",
         SymbolInfoInteger(symbol, SYMBOL_DIGITS), "|", SymbolInfoString(symbol, SYMBOL_CURRENCY_BASE), "|",
         SymbolInfoString(symbol, SYMBOL_CURRENCY_PROFIT), "|", SymbolInfoString(symbol, SYMBOL_DESCRIPTION));
   long digits = 0;
   string base = "";
   double step = 0;
   bool have_digits = SymbolInfoInteger(symbol, SYMBOL_DIGITS, digits);
   bool have_base = SymbolInfoString(symbol, SYMBOL_CURRENCY_BASE, base);
   bool have_step = SymbolInfoDouble(symbol, SYMBOL_VOLUME_STEP, step);
   Print("BoolForms=", have_digits, " ", digits, " ", have_base, " ", base, " ", have_step, " ", step);
   ResetLastError();
   double bid = -1;
   bool known = SymbolInfoDouble("NOPE", SYMBOL_BID, bid);
   int error = GetLastError();
   ResetLastError();
   double ask = SymbolInfoDouble("NOPE", SYMBOL_ASK);
   Print("UnknownSymbol=", known, " ", error, " ", ask, " ", _LastError);
   string names = "";
   for(int i = 0; i < SymbolsTotal(false); i++)
      names += SymbolName(i, false) + ";";
   bool custom = true;
   bool exists = SymbolExist("BTCUSD", custom);
   bool hidden = SymbolSelect("BTCUSD", false);
   Print("Symbols=", names, " ", exists, " ", custom, " ", hidden, " ", SymbolsTotal(true), " ", SymbolsTotal(false));
   Print("Program=", Period() == PERIOD_H1, " ", OrdersTotal(), " ", TerminalInfoDouble(TERMINAL_COMMUNITY_BALANCE), " ",
         EventSetTimer(1), " ", EventSetTimer(0));
   EventKillTimer();
   Print("UninitializeReason=", UninitializeReason(), " IsStopped=", IsStopped());
   SetUserError(3);
   Print("UserError=", GetLastError());
   Comment("line one\nline two");
   Comment("line one\nline two");
   Comment("count ", 5);
   string long_text = "";
   StringInit(long_text, 3000, 'x');
   Comment(long_text);
   Alert("alert ", 1, " raised");
   Print("Tester=", MQLInfoInteger(MQL_TESTER), MQLInfoInteger(MQL_OPTIMIZATION), MQLInfoInteger(MQL_VISUAL_MODE));
   ResetLastError();
   int socket = SocketCreate();
   Print("Socket=", socket != INVALID_HANDLE, " ", GetLastError());
   SocketClose(socket);
  }

//+------------------------------------------------------------------+
void RunFiles()
  {
   string name = "SelfTest\\sub\\token.txt";
   int handle = FileOpen(name, FILE_WRITE | FILE_TXT | FILE_ANSI, '\t', CP_UTF8);
   Print("FileOpenWrite=", handle != INVALID_HANDLE);
   uint written = FileWriteString(handle, "tökén-42\r\n");
   FileWriteString(handle, "second line");
   FileFlush(handle);
   Print("Written=", written, " Size=", FileSize(handle));
   FileClose(handle);
   Print("FileIsExist=", FileIsExist(name), " ", FileIsExist("SelfTest\\missing.txt"));
   handle = FileOpen(name, FILE_READ | FILE_TXT | FILE_ANSI, '\t', CP_UTF8);
   string first = FileReadString(handle);
   bool first_ending = FileIsEnding(handle);
   string second = FileReadString(handle);
   Print("ReadLines=", first, "|", first_ending, "|", second, "|", FileIsEnding(handle));
   FileClose(handle);

   handle = FileOpen("SelfTest/unicode.txt", FILE_WRITE | FILE_TXT);
   FileWriteString(handle, "€1");
   FileClose(handle);
   handle = FileOpen("SelfTest/unicode.txt", FILE_READ | FILE_TXT);
   Print("Unicode=", FileReadString(handle), " ", FileSize(handle));
   FileClose(handle);

   handle = FileOpen("common.txt", FILE_WRITE | FILE_TXT | FILE_ANSI | FILE_COMMON);
   FileWriteString(handle, "c");
   FileClose(handle);
   bool in_common = FileIsExist("common.txt", FILE_COMMON);
   bool in_local = FileIsExist("common.txt");
   Print("Common=", in_common, " ", in_local);

   handle = FileOpen("SelfTest\\data.bin", FILE_WRITE | FILE_BIN);
   uchar out[] = {1, 2, 3};
   uint elements = FileWriteArray(handle, out);
   FileWriteString(handle, "xy");
   FileClose(handle);
   handle = FileOpen("SelfTest\\data.bin", FILE_READ | FILE_BIN);
   uchar in[];
   uint read = FileReadArray(handle, in, 0, 3);
   string tail = FileReadString(handle, 2);
   Print("Binary=", elements, " ", FileSize(handle), " ", read, " ", in[0], in[1], in[2], " ", tail, " ",
         FileIsEnding(handle), " ", ArraySize(in));
   FileClose(handle);

   handle = FileOpen("SelfTest\\table.csv", FILE_WRITE | FILE_CSV | FILE_ANSI, ';');
   uint line_bytes = FileWrite(handle, "symbol", 0.5, 3);
   FileClose(handle);
   handle = FileOpen("SelfTest\\table.csv", FILE_READ | FILE_CSV | FILE_ANSI, ';');
   string field_one = FileReadString(handle);
   string field_two = FileReadString(handle);
   string field_three = FileReadString(handle);
   Print("Csv=", field_one, "|", field_two, "|", field_three, " ", line_bytes);
   FileClose(handle);

   handle = FileOpen("SelfTest\\table.csv", FILE_READ | FILE_CSV | FILE_ANSI, ";");
   FileSeek(handle, 7, SEEK_SET);
   ulong position = FileTell(handle);
   Print("Seek=", position, " ", FileReadString(handle));
   FileClose(handle);

   ResetLastError();
   int missing = FileOpen("SelfTest\\missing.txt", FILE_READ | FILE_TXT);
   Print("OpenMissing=", missing, " ", GetLastError());
   ResetLastError();
   int escaping = FileOpen("..\\escape.txt", FILE_WRITE | FILE_TXT);
   Print("OpenOutside=", escaping, " ", GetLastError());
   bool deleted = FileDelete("SelfTest\\data.bin");
   bool still_there = FileIsExist("SelfTest\\data.bin");
   bool deleted_again = FileDelete("SelfTest\\data.bin");
   Print("FileDelete=", deleted, " ", still_there, " ", deleted_again);
  }

//+------------------------------------------------------------------+
void RunSockets()
  {
   uchar payload[];
   StringToCharArray("ping", payload, 0, 4);

   ResetLastError();
   int refused = SocketCreate();
   bool refused_connected = SocketConnect(refused, InpHost, InpRefusedPort, 1000);
   Print("Refused=", refused_connected, " ", GetLastError());
   SocketClose(refused);
   ResetLastError();
   int foreign = SocketCreate();
   bool foreign_connected = SocketConnect(foreign, "10.255.255.1", 80, 1000);
   Print("NotAllowed=", foreign_connected, " ", GetLastError());
   SocketClose(foreign);
   ResetLastError();
   int invalid_sent = SocketSend(999, payload, 4);
   Print("InvalidHandle=", invalid_sent, " ", GetLastError());

   int socket = SocketCreate();
   bool connected = SocketConnect(socket, InpHost, InpPort, 2000);
   Print("Connected=", connected, " ", SocketIsConnected(socket), " ", SocketIsWritable(socket));
   SocketTimeouts(socket, 1000, 1000);
   Print("ReadableBefore=", SocketIsReadable(socket));
   int sent = SocketSend(socket, payload, 4);
   Print("Sent=", sent);
   uint deadline = GetTickCount() + 5000;
   uint readable = 0;
   while(GetTickCount() < deadline)
     {
      readable = SocketIsReadable(socket);
      if(readable >= 6)
         break;
      Sleep(5);
     }
   Print("Readable=", readable);
   uchar answer[];
   int got = SocketRead(socket, answer, 4, 1000);
   Print("Read4=", got, " ", CharArrayToString(answer, 0, got), " ", ArraySize(answer));
   got = SocketRead(socket, answer, 100, 1000);
   Print("ReadRest=", got, " ", CharArrayToString(answer, 0, got));
   Print("ReadableAfterAll=", SocketIsReadable(socket));
   ResetLastError();
   uint started = GetTickCount();
   got = SocketRead(socket, answer, 10, 300);
   int timeout_error = GetLastError();
   Print("ReadTimeout=", got, " ", timeout_error, " ", GetTickCount() - started >= 250, " ", SocketIsConnected(socket));
   uchar bye[4] = {'b', 'y', 'e', '!'};
   int sent_fixed = SocketSend(socket, bye, 4);
   Print("SentFixed=", sent_fixed);
   deadline = GetTickCount() + 5000;
   while(SocketIsConnected(socket) && GetTickCount() < deadline)
      Sleep(5);
   Print("PeerClosed=", !SocketIsConnected(socket));
   ResetLastError();
   got = SocketRead(socket, answer, 10, 100);
   Print("ReadAfterClose=", got, " ", GetLastError());
   bool closed = SocketClose(socket);
   bool closed_again = SocketClose(socket);
   Print("Close=", closed, " ", closed_again);

   int handles[];
   ArrayResize(handles, 0);
   int last = 0;
   ResetLastError();
   while(true)
     {
      last = SocketCreate();
      if(last == INVALID_HANDLE)
         break;
      ArrayResize(handles, ArraySize(handles) + 1);
      handles[ArraySize(handles) - 1] = last;
     }
   Print("TooMany=", ArraySize(handles), " ", last, " ", GetLastError());
   for(int i = 0; i < ArraySize(handles); i++)
      SocketClose(handles[i]);
  }

//+------------------------------------------------------------------+
void RunShell(bool check_permission)
  {
   if(check_permission && MQLInfoInteger(MQL_DLLS_ALLOWED) == 0)
     {
      Print("Shell=DLL imports are not allowed: not starting anything");
      return;
     }
   string parameters = InpParameters + " " + TerminalInfoString(TERMINAL_DATA_PATH) + "\\MQL5\\Files\\from-ea.txt";
   int started = ShellExecuteW(0, "open", InpProgram, parameters, "", SW_HIDE);
   Print("ShellStarted=", started > 32);
   int missing = ShellExecuteW(0, "open", "/nonexistent/no-such-program", "", "", SW_HIDE);
   Print("ShellMissing=", missing);
  }

//+------------------------------------------------------------------+
//| The position table, one "symbol side volume id magic" per row    |
//+------------------------------------------------------------------+
void PrintPositions()
  {
   string rows = "";
   for(int i = 0; i < PositionsTotal(); i++)
     {
      ulong ticket = PositionGetTicket(i);
      string side = PositionGetInteger(POSITION_TYPE) == POSITION_TYPE_BUY ? (string)"buy" : (string)"sell";
      rows += StringFormat("%s%s %s %.2f id=%I64u ticket=%I64u magic=%I64d", i > 0 ? (string)"; " : (string)"",
                           PositionGetString(POSITION_SYMBOL), side, PositionGetDouble(POSITION_VOLUME),
                           PositionGetInteger(POSITION_IDENTIFIER), ticket, PositionGetInteger(POSITION_MAGIC));
     }
   Print("positions: ", rows);
  }

//+------------------------------------------------------------------+
void PrintDeal(ulong ticket)
  {
   PrintFormat("deal %I64u entry=%s type=%s magic=%I64d position=%I64d volume=%.2f symbol=%s reason=%s", ticket,
               EnumToString((ENUM_DEAL_ENTRY)HistoryDealGetInteger(ticket, DEAL_ENTRY)),
               EnumToString((ENUM_DEAL_TYPE)HistoryDealGetInteger(ticket, DEAL_TYPE)),
               HistoryDealGetInteger(ticket, DEAL_MAGIC), HistoryDealGetInteger(ticket, DEAL_POSITION_ID),
               HistoryDealGetDouble(ticket, DEAL_VOLUME), HistoryDealGetString(ticket, DEAL_SYMBOL),
               EnumToString((ENUM_DEAL_REASON)HistoryDealGetInteger(ticket, DEAL_REASON)));
  }

//+------------------------------------------------------------------+
void StartTrades()
  {
   ResetLastError();
   long unselected = HistoryDealGetInteger(5001, DEAL_ENTRY);
   Print("Unselected=", unselected, " ", GetLastError());
   PrintPositions();
  }

//+------------------------------------------------------------------+
void ReportTransaction(const MqlTradeTransaction &trans)
  {
   PrintFormat("tx %s order=%I64u deal=%I64u position=%I64u symbol=%s volume=%.2f", EnumToString(trans.type),
               trans.order, trans.deal, trans.position, trans.symbol, trans.volume);
   if(trans.type != TRADE_TRANSACTION_DEAL_ADD)
      return;
   if(HistoryDealSelect(trans.deal))
      PrintDeal(trans.deal);
   PrintPositions();
  }

//+------------------------------------------------------------------+
void FinishTrades()
  {
   HistorySelect(0, TimeCurrent() + 60);
   int total = HistoryDealsTotal();
   Print("history: ", total, " deals");
   for(int i = 0; i < total; i++)
      PrintDeal(HistoryDealGetTicket(i));
   bool selected = PositionSelect("EURUSD.m");
   Print("PositionSelect=", selected, " ", PositionGetDouble(POSITION_VOLUME));
   if(PositionsTotal() == 0)
      return;
   string symbol = PositionGetSymbol(0);
   long identifier = PositionGetInteger(POSITION_IDENTIFIER);
   ResetLastError();
   bool unknown = PositionSelectByTicket(999999);
   int error = GetLastError();
   bool known = PositionSelectByTicket((ulong)identifier);
   Print("ByTicket=", symbol, " ", unknown, " ", error, " ", known, " ", PositionGetInteger(POSITION_TICKET));
   HistorySelectByPosition(identifier);
   string entries = "";
   for(int i = 0; i < HistoryDealsTotal(); i++)
      entries += EnumToString((ENUM_DEAL_ENTRY)HistoryDealGetInteger(HistoryDealGetTicket(i), DEAL_ENTRY)) + ";";
   Print("ByPosition=", HistoryDealsTotal(), " ", entries);
  }
