//+------------------------------------------------------------------+
//|                                             CSMultiConnector.mq5 |
//|   Copies this account's positions to Interactive Brokers,        |
//|   Binance, KuCoin or Kraken through the csmc sidecar.            |
//|   API keys never go here: they live in the sidecar's profile.    |
//+------------------------------------------------------------------+
#property copyright "CSMultiConnector contributors"
#property link      "https://github.com/csmulticonnector/csmulticonnector"
#property version   "1.00"
#property description "Mirrors the MT5 positions chosen by magic number onto another venue."

#include <CSMultiConnector/Copier.mqh>

input group "Common"
input string InpMagicIds = "";                      // Source EA magic IDs (comma separated; empty = by hand)
input bool   InpStopOnCriticalError = false;        // Stop when a critical error occurs
input group "Logging"
input bool   InpShowAlerts = true;                  // Show alert if an error occurs
input bool   InpDuplicateToExpertLog = true;        // Duplicate log messages to the Expert Log
input bool   InpPrintInfoMessages = true;           // Print information messages to the Expert Log
input int    InpMaxLogFileMb = 20;                  // Max log file size in MB
input group "Connector"
input ENUM_CSMC_CONNECTOR InpConnector = CONNECTOR_PROFILE; // Connector (must agree with the profile)
input string InpProfile = "default";                // Sidecar profile name
input group "Sidecar"
input bool   InpStartSidecar = true;                // Start the sidecar automatically
input string InpSidecarCommand = "csmc";            // Sidecar command (full path if not on PATH)
input int    InpSidecarPort = 5555;                 // Sidecar port on 127.0.0.1

CCopier ExtCopier;

//+------------------------------------------------------------------+
int OnInit(void)
  {
   SCopierSettings settings;
   settings.magic_ids=InpMagicIds;
   settings.stop_on_critical=InpStopOnCriticalError;
   settings.show_alerts=InpShowAlerts;
   settings.expert_log=InpDuplicateToExpertLog;
   settings.info_messages=InpPrintInfoMessages;
   settings.max_log_mb=InpMaxLogFileMb;
   settings.connector=InpConnector;
   settings.profile=InpProfile;
   settings.auto_start=InpStartSidecar;
   settings.command=InpSidecarCommand;
   settings.port=InpSidecarPort;
   return(ExtCopier.Init(settings));
  }
//+------------------------------------------------------------------+
void OnDeinit(const int reason)
  {
   ExtCopier.Deinit(reason);
  }
//+------------------------------------------------------------------+
void OnTimer(void)
  {
   ExtCopier.OnTimerEvent();
  }
//+------------------------------------------------------------------+
void OnTradeTransaction(const MqlTradeTransaction &trans,const MqlTradeRequest &request,const MqlTradeResult &result)
  {
   ExtCopier.OnTradeEvent(trans);
  }
//+------------------------------------------------------------------+
