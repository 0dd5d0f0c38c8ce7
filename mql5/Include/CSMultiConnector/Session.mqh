//+------------------------------------------------------------------+
//|                                                      Session.mqh |
//|   The EA's side of the bridge protocol (bridge/PROTOCOL.md):     |
//|   connect, hello, heartbeats, timeouts, reconnect with back-off, |
//|   starting the sidecar when there is none. What to do with the   |
//|   sidecar's messages is left to a derived class.                 |
//+------------------------------------------------------------------+
#ifndef CSMC_SESSION_MQH
#define CSMC_SESSION_MQH

#include "Defines.mqh"
#include "Json.mqh"
#include "Zmtp.mqh"
#include "MagicFilter.mqh"
#include "Launcher.mqh"

#define CSMC_HOST "127.0.0.1"
//--- after a start, the sidecar needs a moment to import and bind its port
#define CSMC_AFTER_LAUNCH_MS 500

class CBridgeSession
  {
protected:
   SCopierSettings   m_settings;
   CMagicFilter      m_filter;
   CSidecarLauncher  m_launcher;
   string            m_sid;
   string            m_mode;          // copy mode from the welcome: mirror or follow
   string            m_connector;     // the sidecar's connector from the welcome: where positions are copied
   int               m_max_frame;

private:
   CZmtpConnection   m_link;
   long              m_seq;
   bool              m_hello_sent;
   bool              m_welcomed;
   bool              m_stopped;       // a problem only the user can solve: no more attempts
   ulong             m_opened_at;
   ulong             m_last_sent;
   ulong             m_last_received;
   ulong             m_next_attempt;
   ulong             m_backoff;
   int               m_heartbeat_ms;
   int               m_timeout_ms;
   string            m_down_reason;

   void              ScheduleRetry(const ulong now)
     {
      m_next_attempt=now+m_backoff;
      m_backoff=(ulong)MathMin(m_backoff*2,(ulong)CSMC_BACKOFF_MAX_MS);
     }
   void              Connect(const ulong now)
     {
      if(m_link.Open(CSMC_HOST,m_settings.port))
        {
         m_opened_at=now;
         m_last_received=now;
         return;
        }
      int error=m_link.LastSocketError();
      string host=CSMC_HOST;
      string port=IntegerToString(m_settings.port);
      string allowed_list="Tools "+TextArrow()+" Options "+TextArrow()+" Expert Advisors "+TextArrow()+
                          " 'Allow WebRequest for listed URL'";
      if(error==ERR_FUNCTION_NOT_ALLOWED)
        {
         //--- the terminal keeps a list of addresses EAs may reach; it cannot be changed from MQL5
         m_down_reason="MetaTrader does not allow this EA to connect to "+host+". Add "+host+" to "+allowed_list+
                       " and press OK; the EA connects on its next attempt.";
         OnLinkDown(m_down_reason,true);
         ScheduleRetry(now);
         return;
        }
      //--- MetaTrader documents no error code for an address missing from that list, so any other failure may
      //--- have either cause, and the messages name both
      string error_text=" (error "+IntegerToString(error)+")";
      m_down_reason="no sidecar is listening on "+host+":"+port+", or MetaTrader does not allow the EA to "+
                    "connect there"+error_text;
      string check_list="If a sidecar runs there, add "+host+" to "+allowed_list+".";
      if(m_launcher.ShouldLaunch())
        {
         int unanswered=m_launcher.Unanswered();
         string previous=m_launcher.LaunchedAt();
         if(m_launcher.Launch())
           {
            if(unanswered>0)
               OnLinkDown("The sidecar the EA started at "+previous+" did not answer on port "+port+": it does not "+
                          "accept connections on "+host+":"+port+error_text+". It may still be starting, it may have "+
                          "stopped (its log file "+m_launcher.LogFileName()+" says why), or MetaTrader may not allow "+
                          "the EA to connect to "+host+" (add it to "+allowed_list+"). The EA started it again ("+
                          IntegerToString(unanswered+1)+" of "+IntegerToString(CSMC_LAUNCH_MAX_TRIES)+").",true);
            OnLaunched();
            m_next_attempt=now+CSMC_AFTER_LAUNCH_MS;
            return;
           }
         OnLinkDown(m_launcher.LastError()+". Check the 'Sidecar command' input: it must name the csmc program "+
                    "(full path if it is not on PATH). To start it by hand instead: "+m_launcher.ManualCommand(),true);
         ScheduleRetry(now);
         return;
        }
      if(!m_settings.auto_start)
         OnLinkDown(m_down_reason+". Start the sidecar: "+m_launcher.ManualCommand()+". "+check_list,false);
      else if(!DllsAllowed())
         OnLinkDown(m_down_reason+". The EA cannot start the sidecar because DLL imports are not allowed: tick "+
                    "'Allow DLL imports' on the EA's Common tab, or start it yourself: "+m_launcher.ManualCommand()+
                    ". "+check_list,true);
      else if(m_launcher.GaveUp())
         OnLinkDown("The sidecar was started "+IntegerToString(CSMC_LAUNCH_MAX_TRIES)+" times and never answered on "+
                    "port "+port+", so the EA stops starting it: it would fail the same way. Its log file "+
                    m_launcher.LogFileName()+" says why; or start it by hand to see why: "+m_launcher.ManualCommand()+
                    ". The EA keeps connecting and copies as soon as a sidecar answers on port "+port+". "+
                    check_list,true);
      else
         OnLinkDown(m_down_reason,false);
      ScheduleRetry(now);
      //--- the connect back-off must not delay the next start, or the end of the starts, past its time
      ulong due=m_launcher.LaunchDue();
      if(m_settings.auto_start && DllsAllowed() && due>now && due<m_next_attempt)
         m_next_attempt=due;
     }
   void              SendHello(void)
     {
      CJsonWriter body;
      body.BeginObject();
      body.KeyStr("token",m_launcher.Token());
      body.Key("versions");
      body.BeginArray();
      body.Int(CSMC_PROTOCOL_VERSION);
      body.EndArray();
      body.KeyStr("ea_version",CSMC_EA_VERSION);
      body.Key("account");
      body.BeginObject();
      body.KeyInt("login",AccountInfoInteger(ACCOUNT_LOGIN));
      body.KeyStr("server",AccountInfoString(ACCOUNT_SERVER));
      body.KeyStr("currency",AccountInfoString(ACCOUNT_CURRENCY));
      bool hedging=(AccountInfoInteger(ACCOUNT_MARGIN_MODE)==ACCOUNT_MARGIN_MODE_RETAIL_HEDGING);
      body.KeyStr("margin_mode",hedging ? "hedging" : "netting");
      body.EndObject();
      //--- null leaves the choice to the sidecar's profile, which is the source of truth (PROTOCOL.md 4.1)
      body.Key("connector");
      if(ConnectorName(m_settings.connector)=="")
         body.Null();
      else
         body.Str(ConnectorName(m_settings.connector));
      body.KeyStr("profile",m_settings.profile);
      body.Key("magic_filter");
      body.BeginArray();
      for(int i=0; i<m_filter.Count(); i++)
         body.Int(m_filter.At(i));
      body.EndArray();
      body.KeyBool("stop_on_critical",m_settings.stop_on_critical);
      body.Key("logging");
      body.BeginObject();
      body.KeyBool("show_alerts",m_settings.show_alerts);
      body.KeyBool("expert_log",m_settings.expert_log);
      body.KeyBool("info_messages",m_settings.info_messages);
      body.KeyInt("max_log_mb",m_settings.max_log_mb);
      body.EndObject();
      body.EndObject();
      m_hello_sent=SendMessage("hello",body.Text());
     }
   void              LinkLost(const string reason,const ulong now,const bool needs_user=false)
     {
      bool was_welcomed=m_welcomed;
      m_link.Close();
      m_hello_sent=false;
      m_welcomed=false;
      m_down_reason=reason;
      ScheduleRetry(now);
      OnLinkDown(reason,needs_user);
      if(was_welcomed)
         OnSessionLost();
     }
   void              Stop(const string reason)
     {
      m_link.Close();
      m_hello_sent=false;
      m_welcomed=false;
      m_stopped=true;
      m_down_reason=reason;
      OnLinkDown(reason,true);
      OnStopped(reason);
     }
   void              HandleError(CJsonDoc &doc,const int body,const ulong now)
     {
      string code=doc.GetStr(body,"code","");
      string text=doc.GetStr(body,"text","");
      string port=IntegerToString(m_settings.port);
      if(code=="no_session")
        {
         if(StringFind(text,"replaced by EA session")==0)
           {
            Stop("Another EA now uses the sidecar on port "+port+", so this one stopped copying. Give every EA "+
                 "its own 'Sidecar port' input.");
            return;
           }
         //--- the sidecar forgot us (timeout, restart): say hello again on the same connection
         m_welcomed=false;
         m_hello_sent=false;
         return;
        }
      if(code=="bad_token")
        {
         Stop("The sidecar on port "+port+" belongs to another terminal or EA: it does not know this EA's "+
              "session token. Choose another 'Sidecar port' input, or stop that sidecar and reattach the EA.");
         return;
        }
      if(code=="unsupported_version")
        {
         Stop("The EA and the sidecar on port "+port+" speak different protocol versions. Install matching "+
              "versions of the EA and the sidecar.");
         return;
        }
      if(code=="invalid" && doc.GetStr(body,"ref_type","")=="hello")
        {
         //--- e.g. the EA's Connector input names another venue than the sidecar's profile: the user decides
         LinkLost("The sidecar on port "+port+" refused this EA: "+text,now,true);
         return;
        }
      OnProtocolNote("the sidecar refused a message ("+code+"): "+text);
     }
   void              Dispatch(const string payload,const ulong now)
     {
      CJsonDoc doc;
      if(!doc.Parse(payload) || doc.Type(0)!=JSON_OBJECT)
        {
         OnProtocolNote("an unreadable message from the sidecar was dropped ("+
                        (doc.Error()=="" ? "not a JSON object" : doc.Error())+")");
         return;
        }
      string type=doc.GetStr(0,"type","");
      string sid=doc.GetStr(0,"sid","");
      if(sid!=m_sid && !(type=="error" && sid=="none"))
         return;
      m_last_received=now;
      int body=doc.Member(0,"body");
      if(type=="heartbeat" || type=="ack")
         return;
      if(type=="welcome")
        {
         m_welcomed=true;
         m_backoff=CSMC_BACKOFF_FIRST_MS;
         m_down_reason="";
         m_launcher.Connected();
         m_heartbeat_ms=(int)doc.GetInt(body,"heartbeat_ms",CSMC_DEFAULT_HEARTBEAT_MS);
         m_timeout_ms=(int)doc.GetInt(body,"timeout_ms",CSMC_DEFAULT_TIMEOUT_MS);
         m_max_frame=(int)doc.GetInt(body,"max_frame",262144);
         m_mode=doc.GetStr(body,"mode","");
         m_connector=doc.GetStr(body,"connector","");
         OnWelcome(doc.GetStr(body,"sidecar_version","?"));
         return;
        }
      if(type=="error")
        {
         HandleError(doc,body,now);
         return;
        }
      if(!m_welcomed)
         return;
      OnMessage(type,doc,body);
     }

protected:
   //--- what the derived class does with the session's events
   virtual void      OnWelcome(const string sidecar_version) {}
   virtual void      OnMessage(const string type,CJsonDoc &doc,const int body) {}
   virtual void      OnLinkDown(const string reason,const bool needs_user) {}
   virtual void      OnSessionLost(void) {}
   virtual void      OnStopped(const string reason) {}
   virtual void      OnLaunched(void) {}
   virtual void      OnProtocolNote(const string text) {}

   bool              SendMessage(const string type,const string body_json)
     {
      if(!m_link.IsReady())
         return(false);
      m_seq++;
      CJsonWriter envelope;
      envelope.BeginObject();
      envelope.KeyInt("v",CSMC_PROTOCOL_VERSION);
      envelope.KeyStr("type",type);
      envelope.KeyStr("sid",m_sid);
      envelope.KeyInt("seq",m_seq);
      envelope.Key("body");
      envelope.Raw(body_json);
      envelope.EndObject();
      if(!m_link.Send(envelope.Text()))
        {
         LinkLost(m_link.LastError(),GetTickCount64());
         return(false);
        }
      m_last_sent=GetTickCount64();
      return(true);
     }

public:
                     CBridgeSession(void) : m_max_frame(262144), m_seq(0), m_hello_sent(false), m_welcomed(false),
                     m_stopped(false), m_opened_at(0), m_last_sent(0), m_last_received(0),
                     m_next_attempt(0), m_backoff(CSMC_BACKOFF_FIRST_MS), m_heartbeat_ms(CSMC_DEFAULT_HEARTBEAT_MS),
                     m_timeout_ms(CSMC_DEFAULT_TIMEOUT_MS)
     {
      m_sid="";
      m_mode="";
      m_connector="";
      m_down_reason="";
     }
   virtual          ~CBridgeSession(void) {}

   bool              IsActive(void) const { return(m_welcomed); }
   bool              GaveUp(void) const { return(m_stopped); }
   string            DownReason(void) const { return(m_down_reason); }
   long              SecondsToNextAttempt(void) const
     {
      ulong now=GetTickCount64();
      return(m_next_attempt>now ? (long)((m_next_attempt-now+999)/1000) : 0);
     }

   //--- one step of the session; never waits for the network
   void              Tick(void)
     {
      if(m_stopped)
         return;
      ulong now=GetTickCount64();
      if(!m_link.IsOpen())
        {
         if(now>=m_next_attempt)
            Connect(now);
         return;
        }
      if(!m_link.Poll())
        {
         LinkLost(m_link.LastError(),now);
         return;
        }
      int dropped=m_link.TakeDropped();
      if(dropped>0)
         OnProtocolNote(IntegerToString(dropped)+" message(s) from the sidecar larger than "+
                        IntegerToString(ZMTP_MAX_MESSAGE/1048576)+" MiB were dropped");
      string messages[];
      int count=m_link.TakeInbox(messages);
      for(int i=0; i<count && m_link.IsOpen() && !m_stopped; i++)
         Dispatch(messages[i],now);
      if(!m_link.IsOpen() || m_stopped)
         return;
      if(m_link.IsReady() && !m_hello_sent)
         SendHello();  // the first on a new connection, or again after a no_session reply
      if(!m_welcomed)
        {
         if(now-m_opened_at>(ulong)m_timeout_ms)
            LinkLost("the sidecar did not answer within "+IntegerToString(m_timeout_ms/1000)+" s",now);
         return;
        }
      if(now-m_last_received>(ulong)m_timeout_ms)
        {
         LinkLost("nothing heard from the sidecar for "+IntegerToString(m_timeout_ms/1000)+" s",now);
         return;
        }
      if(now-m_last_sent>=(ulong)m_heartbeat_ms)
         SendMessage("heartbeat","{}");
     }

   //--- ends the session politely (PROTOCOL.md 3.8)
   void              SendBye(const string reason,const bool critical)
     {
      if(m_welcomed)
        {
         CJsonWriter body;
         body.BeginObject();
         body.KeyStr("reason",reason);
         body.KeyBool("critical",critical);
         body.EndObject();
         SendMessage("bye",body.Text());
        }
      m_link.Close();
      m_welcomed=false;
      m_hello_sent=false;
     }
  };

#endif
