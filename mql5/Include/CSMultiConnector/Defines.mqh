//+------------------------------------------------------------------+
//|                                                      Defines.mqh |
//|   Names and numbers shared by every part of the EA.              |
//+------------------------------------------------------------------+
#ifndef CSMC_DEFINES_MQH
#define CSMC_DEFINES_MQH

#define CSMC_EA_VERSION        "1.00"
#define CSMC_PROTOCOL_VERSION  1
//--- the EA's timer; at most half the sidecar's heartbeat interval (PROTOCOL.md 6.2)
#define CSMC_TIMER_MS          200
//--- the full table is sent this often even when nothing happened, to repair anything lost
#define CSMC_SNAPSHOT_EVERY_MS 5000
//--- used until the welcome announces the sidecar's own values
#define CSMC_DEFAULT_TIMEOUT_MS   10000
#define CSMC_DEFAULT_HEARTBEAT_MS 1000
//--- reconnect back-off
#define CSMC_BACKOFF_FIRST_MS  1000
#define CSMC_BACKOFF_MAX_MS    30000
//--- a started sidecar needs a moment to bind its port; do not start another one sooner
#define CSMC_LAUNCH_FIRST_MS   5000
#define CSMC_LAUNCH_MAX_MS     60000
//--- a sidecar that cannot copy still answers and says why; one that never answers is not started forever
#define CSMC_LAUNCH_MAX_TRIES  3
//--- every socket call is bounded so that no event handler waits longer than this
#define CSMC_SOCKET_WAIT_MS    20
//--- MT5 shows at most this many characters of a chart comment and cuts the rest
#define CSMC_COMMENT_MAX_CHARS 2045
//--- the range the sidecar accepts for the log size (PROTOCOL.md 4.1)
#define CSMC_MAX_LOG_MB_LIMIT  4096

//--- the venues keep their numbers: presets (.set files) store an enum input as its number
enum ENUM_CSMC_CONNECTOR
  {
   CONNECTOR_PROFILE=-1, // As in the sidecar profile (recommended)
   CONNECTOR_IB=0,       // Interactive Brokers
   CONNECTOR_BINANCE=1,  // Binance
   CONNECTOR_KUCOIN=2,   // KuCoin
   CONNECTOR_KRAKEN=3,   // Kraken
   CONNECTOR_PAPER=4     // Paper (simulated, no account needed)
  };

//+------------------------------------------------------------------+
//| The connector's name in the bridge protocol; "" when the EA      |
//| leaves the choice to the sidecar's profile.                      |
//+------------------------------------------------------------------+
string ConnectorName(const ENUM_CSMC_CONNECTOR connector)
  {
   switch(connector)
     {
      case CONNECTOR_IB:      return("ib");
      case CONNECTOR_BINANCE: return("binance");
      case CONNECTOR_KUCOIN:  return("kucoin");
      case CONNECTOR_KRAKEN:  return("kraken");
      case CONNECTOR_PAPER:   return("paper");
     }
   return("");
  }

//+------------------------------------------------------------------+
//| Characters outside ASCII, built from their codes: the sources    |
//| stay ASCII, so every MetaEditor reads them alike, whatever code  |
//| page it assumes for a file without a byte-order mark.            |
//+------------------------------------------------------------------+
string TextArrow(void)     { return(ShortToString(0x2192)); }  // rightwards arrow
string TextBackArrow(void) { return(ShortToString(0x2190)); }  // leftwards arrow
string TextDash(void)      { return(ShortToString(0x2014)); }  // em dash
string TextDot(void)       { return(ShortToString(0x00B7)); }  // middle dot
string TextEllipsis(void)  { return(ShortToString(0x2026)); }  // horizontal ellipsis

//+------------------------------------------------------------------+
//| The inputs, gathered once in OnInit.                             |
//+------------------------------------------------------------------+
struct SCopierSettings
  {
   string            magic_ids;
   bool              stop_on_critical;
   bool              show_alerts;
   bool              expert_log;
   bool              info_messages;
   int               max_log_mb;
   ENUM_CSMC_CONNECTOR connector;
   string            profile;
   bool              auto_start;
   string            command;
   int               port;
  };

#endif
