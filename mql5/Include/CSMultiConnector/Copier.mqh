//+------------------------------------------------------------------+
//|                                                       Copier.mqh |
//|   The EA itself: validates the inputs, sends the filtered        |
//|   position table on every trade event, on request and on a       |
//|   timer, and shows the sidecar's status and alerts.              |
//+------------------------------------------------------------------+
#ifndef CSMC_COPIER_MQH
#define CSMC_COPIER_MQH

#include "Defines.mqh"
#include "Display.mqh"
#include "PositionTable.mqh"
#include "Session.mqh"

//+------------------------------------------------------------------+
//| Why the EA stops, in words for the sidecar's journal.            |
//+------------------------------------------------------------------+
string DeinitReasonText(const int reason)
  {
   switch(reason)
     {
      case REASON_PROGRAM:     return("the EA stopped itself");
      case REASON_REMOVE:      return("the EA was removed from the chart");
      case REASON_RECOMPILE:   return("the EA was recompiled");
      case REASON_CHARTCHANGE: return("the chart's symbol or timeframe changed");
      case REASON_CHARTCLOSE:  return("the chart was closed");
      case REASON_PARAMETERS:  return("the EA's inputs changed");
      case REASON_ACCOUNT:     return("another account was selected");
      case REASON_TEMPLATE:    return("a template was applied to the chart");
      case REASON_INITFAILED:  return("the EA failed to start");
      case REASON_CLOSE:       return("the terminal was closed");
     }
   return("deinitialization reason "+IntegerToString(reason));
  }

bool IsValidProfileName(const string name)
  {
   int length=StringLen(name);
   if(length<1 || length>64)
      return(false);
   for(int i=0; i<length; i++)
     {
      ushort c=StringGetCharacter(name,i);
      bool ok=(c>='a' && c<='z') || (c>='A' && c<='Z') || (c>='0' && c<='9') || c=='_' || c=='.' || c=='-';
      if(!ok)
         return(false);
     }
   return(true);
  }

class CCopier : public CBridgeSession
  {
private:
   CDisplay          m_display;
   CPositionTable    m_table;
   SDealHint         m_deal;           // the latest deal not yet reported
   string            m_due;            // reason of a snapshot that must go out; "" = none due
   ulong             m_last_snapshot;
   string            m_last_table_error;
   bool              m_removing;
   bool              m_in_tester;      // the Strategy Tester: sockets do not work there, so the EA stays idle

   //--- sends the current table now; an unreadable table is skipped, never sent in part
   void              SendSnapshot(const string reason)
     {
      string body="";
      int copied=0;
      if(!m_table.Build(m_filter,reason,m_deal,body,copied))
        {
         if(m_table.LastError()!=m_last_table_error)
            m_display.Info("snapshot postponed: "+m_table.LastError());
         m_last_table_error=m_table.LastError();
         m_due=reason;
         return;
        }
      m_last_table_error="";
      if(StringLen(body)>m_max_frame)
        {
         m_display.Problem("the position table is too large for the sidecar ("+IntegerToString(copied)+
                           " positions); narrow the magic filter");
         return;
        }
      if(!SendMessage("snapshot",body))
        {
         m_due=reason;
         return;
        }
      m_due="";
      m_deal.valid=false;
      m_last_snapshot=GetTickCount64();
     }
   void              ShowStatus(CJsonDoc &doc,const int body)
     {
      bool venue_connected=doc.GetBool(body,"venue_connected",false);
      bool copying=doc.GetBool(body,"copying",false);
      long mismatches=doc.GetInt(body,"mismatches",0);
      string detail=doc.GetStr(body,"detail","");
      //--- the reason may already be shown in full below the status, as a critical alert
      if(detail!="" && m_display.Notice()!="" && StringFind(m_display.Notice(),detail)>=0)
         detail="see below";
      string line;
      if(!venue_connected)
         line="Venue: not connected"+(detail!="" ? " "+TextDash()+" "+detail : "");
      else if(!copying)
         line="Not copying"+(detail!="" ? ": "+detail : " yet");
      else
        {
         line="Copying ("+m_mode+" mode)";
         if(doc.GetStr(body,"last_sync_ms","")!="")
            line+=" "+TextDot()+" last sync "+TimeToString((datetime)(doc.GetInt(body,"last_sync_ms",0)/1000),
                                               TIME_DATE|TIME_SECONDS)+" UTC";
         line+=" "+TextDot()+(mismatches==0 ? " in sync" : " "+IntegerToString(mismatches)+" mismatch(es)");
        }
      m_display.ClearRows();
      int list=doc.Member(body,"instruments");
      for(int row=doc.FirstChild(list); row>=0; row=doc.Next(row))
        {
         SStatusRow status;
         string leg=doc.GetStr(row,"leg","net");
         status.instrument=doc.GetStr(row,"symbol","?")+(leg=="net" ? "" : " "+leg);
         status.sources="";
         int sources=doc.Member(row,"mt5_symbols");
         for(int s=doc.FirstChild(sources); s>=0; s=doc.Next(s))
            status.sources+=(status.sources=="" ? "" : ",")+doc.Text(s);
         if(status.sources=="")
            status.sources="-";
         status.target=doc.GetStr(row,"target","0");
         status.venue=doc.GetStr(row,"venue","unknown");
         status.mismatch=doc.GetStr(row,"mismatch","?");
         status.in_sync=(doc.Type(doc.Member(row,"mismatch"))!=JSON_NULL &&
                         StringToDouble(status.mismatch)==0.0);
         status.note=doc.GetStr(row,"note","");
         status.last_fill="";
         if(doc.Type(doc.Member(row,"last_fill_qty"))==JSON_STRING)
           {
            status.last_fill=doc.GetStr(row,"last_fill_qty","");
            if(doc.Type(doc.Member(row,"last_fill_price"))==JSON_STRING)
               status.last_fill+=" @ "+doc.GetStr(row,"last_fill_price","");
            if(doc.Type(doc.Member(row,"last_fill_mt5_price"))==JSON_STRING)
               status.last_fill+=" (MT5 "+doc.GetStr(row,"last_fill_mt5_price","")+")";
           }
         m_display.AddRow(status);
        }
      m_display.SetCopying(line,venue_connected && copying);
     }
   void              HandleAlert(CJsonDoc &doc,const int body)
     {
      string text=doc.GetStr(body,"text","");
      bool critical=doc.GetBool(body,"critical",false);
      m_display.SidecarAlert(doc.GetStr(body,"level","error"),text,critical);
      if(critical && m_settings.stop_on_critical)
         StopTheEa(text);
     }
   void              StopTheEa(const string reason)
     {
      if(m_removing)
         return;
      m_removing=true;
      SendBye(reason,true);
      m_display.Critical("The EA stopped because of a critical error ('Stop when a critical error occurs' is on): "+
                         reason);
      ExpertRemove();
     }
   void              UpdateConnectionLine(void)
     {
      if(GaveUp())
         return;
      if(IsActive())
        {
         m_display.SetConnection("Sidecar: connected");
         return;
        }
      string reason=DownReason();
      //--- a problem already shown in full below the status is not repeated in this line
      if(reason!="" && reason==m_display.Notice())
         reason="see below";
      long wait=SecondsToNextAttempt();
      m_display.SetConnection("Sidecar: not connected"+(reason!="" ? " "+TextDash()+" "+reason : "")+
                              (wait>0 ? " (next attempt in "+IntegerToString(wait)+" s)" : ""));
     }

protected:
   virtual void      OnWelcome(const string sidecar_version)
     {
      m_display.ProblemSolved();
      m_display.SetNotice("");
      m_display.SetConnector(m_connector);
      m_display.Info("connected to sidecar "+sidecar_version+" on port "+IntegerToString(m_settings.port)+", "+
                     "copying to "+m_connector+" ("+m_mode+" mode)");
      SendSnapshot("connect");
      UpdateConnectionLine();
     }
   virtual void      OnMessage(const string type,CJsonDoc &doc,const int body)
     {
      if(type=="status")
         ShowStatus(doc,body);
      else if(type=="alert")
         HandleAlert(doc,body);
      else if(type=="request_snapshot")
         SendSnapshot("request");
      else
         m_display.Info("a sidecar message of unknown type '"+type+"' was ignored");
     }
   virtual void      OnLinkDown(const string reason,const bool needs_user)
     {
      if(needs_user)
        {
         m_display.Problem(reason);
         m_display.SetNotice(reason);
        }
      else
         m_display.Info("sidecar link: "+reason);
      m_display.SetCopying("",false);
      UpdateConnectionLine();
     }
   virtual void      OnSessionLost(void)
     {
      m_display.ClearRows();
     }
   virtual void      OnStopped(const string reason)
     {
      m_display.SetConnection("Sidecar: stopped trying");
      m_display.Critical(reason);
      if(m_settings.stop_on_critical)
         StopTheEa(reason);
     }
   virtual void      OnLaunched(void)
     {
      m_display.Info("started the sidecar: "+m_settings.command+" "+m_launcher.Parameters());
     }
   virtual void      OnProtocolNote(const string text)
     {
      m_display.Problem(text);
     }

public:
                     CCopier(void) : m_last_snapshot(0), m_removing(false), m_in_tester(false)
     {
      m_due="";
      m_last_table_error="";
      m_deal.valid=false;
     }

   //--- validates the inputs; the EA does not start on a bad one
   int               Init(const SCopierSettings &settings)
     {
      m_settings=settings;
      m_display.Init(settings);
      string error="";
      if(!m_filter.Parse(settings.magic_ids,error))
        {
         m_display.Critical(error);
         return(INIT_PARAMETERS_INCORRECT);
        }
      if(!IsValidProfileName(settings.profile))
        {
         m_display.Critical("Sidecar profile name: use 1 to 64 letters, digits, '_', '.' or '-' (for example "+
                            "default).");
         return(INIT_PARAMETERS_INCORRECT);
        }
      if(settings.port<1024 || settings.port>65535)
        {
         m_display.Critical("Sidecar port: choose a number from 1024 to 65535 (for example 5555).");
         return(INIT_PARAMETERS_INCORRECT);
        }
      if(settings.max_log_mb<1 || settings.max_log_mb>CSMC_MAX_LOG_MB_LIMIT)
        {
         m_display.Critical("Max log file size in MB: choose a number from 1 to "+
                            IntegerToString(CSMC_MAX_LOG_MB_LIMIT)+" (for example 20).");
         return(INIT_PARAMETERS_INCORRECT);
        }
      if(MQLInfoInteger(MQL_TESTER)!=0)
        {
         //--- a backtest must not start the live profile's sidecar nor take its port: nothing is started
         m_in_tester=true;
         string text="The EA copies positions only on a live chart: in the Strategy Tester it starts no "+
                     "sidecar and connects to nothing.";
         m_display.SetConnection("Idle in the Strategy Tester");
         m_display.SetNotice(text);
         m_display.Note(text);
         return(INIT_SUCCEEDED);
        }
      if(settings.auto_start && StringLen(settings.command)==0)
        {
         m_display.Critical("Sidecar command: enter the csmc program (with its full path if it is not on PATH), "+
                            "or turn 'Start the sidecar automatically' off.");
         return(INIT_PARAMETERS_INCORRECT);
        }
      if(!m_launcher.Prepare(settings))
        {
         m_display.Critical(m_launcher.LastError());
         return(INIT_FAILED);
        }
      m_sid=RandomHex(8);
      string venue=ConnectorName(settings.connector);
      m_display.Info("copying positions with magic "+m_filter.Describe()+" (0 = trades by hand) to "+
                     (venue!="" ? venue : "the venue of profile '"+settings.profile+"'")+", sidecar port "+
                     IntegerToString(settings.port));
      m_due="connect";
      if(!EventSetMillisecondTimer(CSMC_TIMER_MS))
        {
         m_display.Critical("the EA's timer could not be started; reattach the EA");
         return(INIT_FAILED);
        }
      Tick();
      UpdateConnectionLine();
      return(INIT_SUCCEEDED);
     }

   void              OnTimerEvent(void)
     {
      if(m_removing || m_in_tester)
         return;
      Tick();
      if(IsActive() && !m_removing)
        {
         if(m_due!="")
            SendSnapshot(m_due);
         else if(GetTickCount64()-m_last_snapshot>=CSMC_SNAPSHOT_EVERY_MS)
            SendSnapshot("timer");
        }
      UpdateConnectionLine();
     }

   //--- a trade event: a new deal may have changed the table, so send it now
   void              OnTradeEvent(const MqlTradeTransaction &trans)
     {
      if(m_removing || m_in_tester || trans.type!=TRADE_TRANSACTION_DEAL_ADD)
         return;
      SDealHint deal;
      if(!CPositionTable::ReadDeal(trans.deal,deal))
         return;
      m_deal=deal;
      if(IsActive())
         SendSnapshot("deal");
      else
         m_due="deal";
     }

   void              Deinit(const int reason)
     {
      EventKillTimer();
      if(!m_removing && !m_in_tester)
         SendBye(DeinitReasonText(reason),false);
      //--- an EA that failed to start leaves the reason on the chart
      if(reason!=REASON_INITFAILED)
         m_display.Clear();
     }
  };

#endif
