//+------------------------------------------------------------------+
//|                                                      Display.mqh |
//|   What the trader sees: the chart comment, the Experts log and   |
//|   alert dialogs, each according to the Logging inputs.           |
//+------------------------------------------------------------------+
#ifndef CSMC_DISPLAY_MQH
#define CSMC_DISPLAY_MQH

#include "Defines.mqh"

#define DISPLAY_MAX_ROWS 12
#define CSMC_PREFIX "CSMultiConnector: "

struct SStatusRow
  {
   string            instrument;
   string            sources;
   string            target;
   string            venue;
   string            mismatch;
   bool              in_sync;
   string            note;
  };

class CDisplay
  {
private:
   SCopierSettings   m_settings;
   string            m_title;
   string            m_connection;   // one line on the sidecar link
   string            m_copying;      // one line on the copy state, from the last status
   string            m_notice;       // stays until the problem is gone: a critical alert or a set-up step
   string            m_last_problem; // the last problem shown in a dialog, so a retry loop does not repeat it
   SStatusRow        m_rows[];
   int               m_row_count;
   int               m_more_rows;
   string            m_shown;

public:
                     CDisplay(void) : m_row_count(0), m_more_rows(0)
     {
      m_title="";
      m_connection="";
      m_copying="";
      m_notice="";
      m_last_problem="";
      m_shown="";
     }

   void              Init(const SCopierSettings &settings)
     {
      m_settings=settings;
      string version=CSMC_EA_VERSION;
      m_title="CSMultiConnector "+version+" → "+ConnectorName(settings.connector)+" (profile "+
              settings.profile+", port "+IntegerToString(settings.port)+")";
      Render();
     }

   //--- the EA's own information messages
   void              Info(const string text)
     {
      if(m_settings.info_messages)
         Print(CSMC_PREFIX,text);
     }
   //--- the EA's own problems; a problem repeated by a retry loop is shown once
   void              Problem(const string text)
     {
      if(text==m_last_problem)
         return;
      m_last_problem=text;
      if(m_settings.show_alerts)
         Alert(CSMC_PREFIX,text);
      else if(m_settings.expert_log)
         Print(CSMC_PREFIX,text);
     }
   void              ProblemSolved(void) { m_last_problem=""; }
   //--- shown in a dialog and kept on the chart whatever the inputs say
   void              Critical(const string text)
     {
      Alert(CSMC_PREFIX,text);
      m_notice=text;
      Render();
     }

   //--- an alert from the sidecar (PROTOCOL.md 4.8)
   void              SidecarAlert(const string level,const string text,const bool critical)
     {
      if(critical)
        {
         Critical(text);
         return;
        }
      if(level=="info")
        {
         if(m_settings.expert_log && m_settings.info_messages)
            Print(CSMC_PREFIX,text);
         return;
        }
      if(m_settings.show_alerts)
         Alert(CSMC_PREFIX,text);
      else if(m_settings.expert_log)
         Print(CSMC_PREFIX,level,": ",text);
     }

   void              SetConnection(const string text) { m_connection=text; Render(); }
   void              SetNotice(const string text) { m_notice=text; Render(); }
   void              SetCopying(const string text,const bool healthy)
     {
      m_copying=text;
      //--- a critical notice stays until copying is healthy again
      if(healthy)
         m_notice="";
      Render();
     }
   void              ClearRows(void) { m_row_count=0; m_more_rows=0; }
   void              AddRow(const SStatusRow &row)
     {
      if(m_row_count>=DISPLAY_MAX_ROWS)
        {
         m_more_rows++;
         return;
        }
      ArrayResize(m_rows,m_row_count+1);
      m_rows[m_row_count++]=row;
     }

   void              Render(void)
     {
      string text=m_title+"\n"+m_connection;
      if(m_copying!="")
         text+="\n"+m_copying;
      for(int i=0; i<m_row_count; i++)
        {
         string line="  "+m_rows[i].instrument+" ← "+m_rows[i].sources+": MT5 "+m_rows[i].target+", venue "+
                     m_rows[i].venue;
         if(!m_rows[i].in_sync)
            line+=", mismatch "+m_rows[i].mismatch;
         if(m_rows[i].note!="")
            line+=" ("+m_rows[i].note+")";
         text+="\n"+line;
        }
      if(m_more_rows>0)
         text+="\n  … and "+IntegerToString(m_more_rows)+" more instruments";
      if(m_notice!="")
         text+="\n\n"+m_notice;
      if(text==m_shown)
         return;
      m_shown=text;
      Comment(text);
     }
   void              Clear(void)
     {
      m_shown="";
      Comment("");
     }
  };

#endif
