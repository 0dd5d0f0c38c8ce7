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

enum ENUM_CSMC_CONNECTOR
  {
   CONNECTOR_IB,       // Interactive Brokers
   CONNECTOR_BINANCE,  // Binance
   CONNECTOR_KUCOIN,   // KuCoin
   CONNECTOR_KRAKEN,   // Kraken
   CONNECTOR_PAPER     // Paper (simulated, no account needed)
  };

//+------------------------------------------------------------------+
//| The connector's name in the bridge protocol and on the command   |
//| line of the sidecar.                                             |
//+------------------------------------------------------------------+
string ConnectorName(const ENUM_CSMC_CONNECTOR connector)
  {
   switch(connector)
     {
      case CONNECTOR_IB:      return("ib");
      case CONNECTOR_BINANCE: return("binance");
      case CONNECTOR_KUCOIN:  return("kucoin");
      case CONNECTOR_KRAKEN:  return("kraken");
     }
   return("paper");
  }

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
