//+------------------------------------------------------------------+
//|                                                     Launcher.mqh |
//|   Starting the sidecar: a fresh random session token in a file   |
//|   inside the terminal's own data folder, then the sidecar's      |
//|   command line through ShellExecuteW.                            |
//+------------------------------------------------------------------+
#ifndef CSMC_LAUNCHER_MQH
#define CSMC_LAUNCHER_MQH

#include "Defines.mqh"

#import "shell32.dll"
int  ShellExecuteW(long hwnd,string operation,string file,string parameters,string directory,int show_command);
#import
#import "advapi32.dll"
//--- RtlGenRandom: the operating system's cryptographic random generator
bool SystemFunction036(uchar &buffer[],uint length);
#import

#define CSMC_TOKEN_BYTES 24
#define CSMC_FILES_FOLDER "CSMultiConnector"

//+------------------------------------------------------------------+
//| Random bytes: from the OS when DLL calls are allowed, otherwise  |
//| a SHA-256 over everything that differs between two starts.       |
//+------------------------------------------------------------------+
bool DllsAllowed(void)
  {
   return(MQLInfoInteger(MQL_DLLS_ALLOWED)!=0);
  }

void RandomBytes(uchar &bytes[],const int count)
  {
   ArrayResize(bytes,count);
   if(DllsAllowed() && SystemFunction036(bytes,(uint)count))
      return;
   //--- without DLLs the terminal offers no secure generator; mix clocks, identity and MathRand
   string seed=IntegerToString((long)GetMicrosecondCount())+"|"+IntegerToString((long)TimeLocal())+"|"+
               IntegerToString(ChartID())+"|"+IntegerToString(AccountInfoInteger(ACCOUNT_LOGIN))+"|"+
               TerminalInfoString(TERMINAL_DATA_PATH);
   MathSrand((int)(GetMicrosecondCount() & 0x7FFFFFFF));
   for(int i=0; i<32; i++)
      seed+="|"+IntegerToString(MathRand());
   uchar data[];
   uchar key[];
   uchar digest[];
   StringToCharArray(seed,data,0,WHOLE_ARRAY,CP_UTF8);
   int filled=0;
   int round=0;
   while(filled<count)
     {
      data[0]=(uchar)(data[0]^round);
      round++;
      if(CryptEncode(CRYPT_HASH_SHA256,data,key,digest)<=0)
         break;
      for(int i=0; i<ArraySize(digest) && filled<count; i++)
         bytes[filled++]=digest[i];
     }
  }

string HexOf(const uchar &bytes[])
  {
   string hex="";
   for(int i=0; i<ArraySize(bytes); i++)
      hex+=StringFormat("%02x",(int)bytes[i]);
   return(hex);
  }

string RandomHex(const int byte_count)
  {
   uchar bytes[];
   RandomBytes(bytes,byte_count);
   return(HexOf(bytes));
  }

//+------------------------------------------------------------------+
//| Knows how to start the sidecar for one port, and when it may     |
//| try again.                                                       |
//+------------------------------------------------------------------+
class CSidecarLauncher
  {
private:
   SCopierSettings   m_settings;
   string            m_token;
   string            m_token_file;     // relative to MQL5\Files
   ulong             m_last_launch;    // GetTickCount64 of the last start; 0 = never
   ulong             m_launch_wait;    // how long to give it before starting another
   int               m_unanswered;     // starts since the last welcome
   datetime          m_launched_at;    // local time of the last start, for the trader
   string            m_error;

public:
                     CSidecarLauncher(void) : m_last_launch(0), m_launch_wait(CSMC_LAUNCH_FIRST_MS), m_unanswered(0),
                     m_launched_at(0)
     {
      m_token="";
      m_token_file="";
      m_error="";
     }

   //--- a fresh token for this EA run, written where only this Windows user can read it
   bool              Prepare(const SCopierSettings &settings)
     {
      m_settings=settings;
      m_token=RandomHex(CSMC_TOKEN_BYTES);
      string folder=CSMC_FILES_FOLDER;
      m_token_file=folder+"\\sidecar-"+IntegerToString(settings.port)+".token";
      ResetLastError();
      int handle=FileOpen(m_token_file,FILE_WRITE|FILE_TXT|FILE_ANSI);
      if(handle==INVALID_HANDLE)
        {
         m_error="cannot write the session token file MQL5\\Files\\"+m_token_file+" (error "+
                 IntegerToString(GetLastError())+")";
         return(false);
        }
      FileWriteString(handle,m_token);
      FileClose(handle);
      return(true);
     }

   string            Token(void) const { return(m_token); }
   string            LastError(void) const { return(m_error); }
   string            TokenPath(void) const
     {
      return(TerminalInfoString(TERMINAL_DATA_PATH)+"\\MQL5\\Files\\"+m_token_file);
     }
   string            Parameters(void) const
     {
      //--- no --connector: the profile decides the venue, and the hello only checks that the EA agrees
      return("run --port "+IntegerToString(m_settings.port)+" --profile "+m_settings.profile+" --token-file \""+
             TokenPath()+"\"");
     }
   //--- what the user types when the EA may not start the sidecar itself
   string            ManualCommand(void) const
     {
      return(m_settings.command+" "+Parameters());
     }

   //--- whether the last start has had its time to answer
   bool              LastLaunchHadItsChance(void) const
     {
      return(m_last_launch==0 || GetTickCount64()-m_last_launch>=m_launch_wait);
     }
   //--- whether starting the sidecar now makes sense: on, allowed, not given up, and the last start had its chance
   bool              ShouldLaunch(void) const
     {
      if(!m_settings.auto_start || !DllsAllowed() || m_unanswered>=CSMC_LAUNCH_MAX_TRIES)
         return(false);
      return(LastLaunchHadItsChance());
     }
   //--- every start allowed was made and none answered: the sidecar fails the same way each time
   bool              GaveUp(void) const
     {
      return(m_settings.auto_start && m_unanswered>=CSMC_LAUNCH_MAX_TRIES && LastLaunchHadItsChance());
     }
   int               Unanswered(void) const { return(m_unanswered); }
   //--- when the last start has had its time (GetTickCount64); 0 when nothing was started
   ulong             LaunchDue(void) const { return(m_last_launch==0 ? 0 : m_last_launch+m_launch_wait); }
   string            LaunchedAt(void) const { return(TimeToString(m_launched_at,TIME_SECONDS)); }
   //--- where the sidecar writes why it stopped (the README's 'Files' says where its log folder is)
   string            LogFileName(void) const { return("run-"+m_settings.profile+".log"); }

   bool              Launch(void)
     {
      if(m_last_launch!=0)
         m_launch_wait=(ulong)MathMin(m_launch_wait*2,(ulong)CSMC_LAUNCH_MAX_MS);
      m_last_launch=GetTickCount64();
      m_launched_at=TimeLocal();
      //--- SW_HIDE: the sidecar has no window of its own; it reports through the chart and its log file
      int result=ShellExecuteW(0,"open",m_settings.command,Parameters(),"",0);
      if(result>32)
        {
         m_error="";
         m_unanswered++;
         return(true);
        }
      m_error="the sidecar command '"+m_settings.command+"' could not be started (ShellExecute error "+
              IntegerToString(result)+(result==2 || result==3 ? ": file not found" : "")+")";
      return(false);
     }
   //--- after a good connection the next start may come quickly again
   void              Connected(void)
     {
      m_launch_wait=CSMC_LAUNCH_FIRST_MS;
      m_unanswered=0;
     }
  };

#endif
