//+------------------------------------------------------------------+
//|                                                      Display.mqh |
//|   What the trader sees: the chart comment, the Experts log and   |
//|   alert dialogs, each according to the Logging inputs.           |
//+------------------------------------------------------------------+
#ifndef CSMC_DISPLAY_MQH
#define CSMC_DISPLAY_MQH

#include "Defines.mqh"

//--- instrument rows shown at most, so that the chart stays readable; the others are counted
#define DISPLAY_MAX_ROWS   12
//--- the most characters one line or the notice may take, so that none crowds the others off the chart
#define DISPLAY_MAX_LINE   300
#define DISPLAY_MAX_NOTICE 900
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
   string            last_fill;        // "0.25 @ 90012.4 (MT5 90000.15)", or "" before the first fill
  };

//+------------------------------------------------------------------+
//| `text` cut to at most `limit` characters, the cut marked by an   |
//| ellipsis; a surrogate pair is never split.                       |
//+------------------------------------------------------------------+
string ClipText(const string text,const int limit)
  {
   if(StringLen(text)<=limit)
      return(text);
   int keep=limit-1;
   ushort last=StringGetCharacter(text,keep-1);
   if(last>=0xD800 && last<=0xDBFF)
      keep--;
   return(StringSubstr(text,0,keep)+TextEllipsis());
  }

class CDisplay
  {
private:
   SCopierSettings   m_settings;
   string            m_connector;    // the venue's connector; "" until the sidecar names it
   string            m_title;
   string            m_connection;   // one line on the sidecar link
   string            m_copying;      // one line on the copy state, from the last status
   string            m_notice;       // stays until the problem is gone: a critical alert or a set-up step
   string            m_last_problem; // the last problem shown, so that a retry loop does not repeat it
   SStatusRow        m_rows[];
   int               m_row_count;
   int               m_more_rows;
   string            m_shown;

   void              UpdateTitle(void)
     {
      string version=CSMC_EA_VERSION;
      string port=IntegerToString(m_settings.port);
      m_title="CSMultiConnector "+version+" "+TextArrow()+" ";
      if(m_connector!="")
         m_title+=m_connector+" (profile "+m_settings.profile+", port "+port+")";
      else
         m_title+="the venue of profile "+m_settings.profile+" (port "+port+")";
     }
   //--- the Experts log, if 'Duplicate log messages to the Expert Log' is on
   void              Log(const string text)
     {
      if(m_settings.expert_log)
         Print(CSMC_PREFIX,text);
     }
   //--- a dialog if 'Show alert' is on, else the Experts log as above
   void              Tell(const string text)
     {
      if(m_settings.show_alerts)
         Alert(CSMC_PREFIX,text);
      else
         Log(text);
     }
   string            RowText(const SStatusRow &row) const
     {
      string line="  "+row.instrument+" "+TextBackArrow()+" "+row.sources+": MT5 "+row.target+", venue "+row.venue;
      if(!row.in_sync)
         line+=", mismatch "+row.mismatch;
      if(row.last_fill!="")
         line+=" "+TextDot()+" last fill "+row.last_fill;
      if(row.note!="")
         line+=" ("+row.note+")";
      return(ClipText(line,DISPLAY_MAX_LINE));
     }
   string            MoreRowsLine(const int count) const
     {
      return("\n  "+TextEllipsis()+" and "+IntegerToString(count)+" more instruments");
     }

public:
                     CDisplay(void) : m_row_count(0), m_more_rows(0)
     {
      m_connector="";
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
      m_connector=ConnectorName(settings.connector);
      UpdateTitle();
      Render();
     }
   //--- the connector the sidecar runs, from its welcome
   void              SetConnector(const string connector)
     {
      m_connector=connector;
      UpdateTitle();
      Render();
     }

   //--- the EA's own information messages: printed only when both Logging inputs allow it
   void              Info(const string text)
     {
      if(m_settings.info_messages)
         Log(text);
     }
   //--- a fact the trader should read once, whatever 'Print information messages' says; never a dialog
   void              Note(const string text) { Log(text); }
   //--- the EA's own problems; a problem repeated by a retry loop is shown once
   void              Problem(const string text)
     {
      if(text==m_last_problem)
         return;
      m_last_problem=text;
      Tell(text);
     }
   void              ProblemSolved(void) { m_last_problem=""; }
   //--- kept on the chart until copying is healthy again, and told as the Logging inputs say
   void              Critical(const string text)
     {
      Tell(text);
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
         Info(text);
         return;
        }
      if(m_settings.show_alerts)
         Alert(CSMC_PREFIX,text);
      else
         Log(level+": "+text);
     }

   void              SetConnection(const string text) { m_connection=text; Render(); }
   void              SetNotice(const string text) { m_notice=text; Render(); }
   string            Notice(void) const { return(m_notice); }
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

   //--- the whole chart text, within what MT5 shows: the rows give way first, the notice last
   void              Render(void)
     {
      string head=ClipText(m_title,DISPLAY_MAX_LINE)+"\n"+ClipText(m_connection,DISPLAY_MAX_LINE);
      if(m_copying!="")
         head+="\n"+ClipText(m_copying,DISPLAY_MAX_LINE);
      string tail=(m_notice!="" ? "\n\n"+ClipText(m_notice,DISPLAY_MAX_NOTICE) : "");
      int total=m_row_count+m_more_rows;
      int room=CSMC_COMMENT_MAX_CHARS-StringLen(head)-StringLen(tail);
      string rows="";
      int shown=0;
      for(int i=0; i<m_row_count; i++)
        {
         string line="\n"+RowText(m_rows[i]);
         int hidden=total-shown-1;
         int reserve=(hidden>0 ? StringLen(MoreRowsLine(hidden)) : 0);
         if(StringLen(rows)+StringLen(line)+reserve>room)
            break;
         rows+=line;
         shown++;
        }
      if(shown<total)
         rows+=MoreRowsLine(total-shown);
      string text=head+rows+tail;
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
