//+------------------------------------------------------------------+
//|                                                PositionTable.mqh |
//|   The snapshot body: every open position that passes the magic   |
//|   filter, with what the sidecar needs to size it on the venue.   |
//+------------------------------------------------------------------+
#ifndef CSMC_POSITION_TABLE_MQH
#define CSMC_POSITION_TABLE_MQH

#include "Json.mqh"
#include "MagicFilter.mqh"

//+------------------------------------------------------------------+
//| Decimals needed to write `value` exactly as the broker set it    |
//| (0.01 -> 2, 100000 -> 0), so volumes travel as "0.10", never as  |
//| the double's "0.10000000000000001".                              |
//+------------------------------------------------------------------+
int DecimalsOf(const double value)
  {
   for(int digits=0; digits<8; digits++)
     {
      double scaled=value*MathPow(10,digits);
      if(MathAbs(scaled-MathRound(scaled))<1e-6*MathMax(1.0,MathAbs(scaled)))
         return(digits);
     }
   return(8);
  }

//+------------------------------------------------------------------+
//| A deal that triggered a snapshot: a hint for the sidecar's log.  |
//+------------------------------------------------------------------+
struct SDealHint
  {
   bool              valid;
   long              ticket;
   long              position_id;
   string            symbol;
   string            entry;
   double            volume;
   int               volume_digits;
   long              magic;
   double            price;            // DEAL_PRICE, so the sidecar can show the venue's slippage against it
   int               price_digits;
  };

class CPositionTable
  {
private:
   string            m_error;

   bool              Fail(const string why) { m_error=why; return(false); }

   bool              WritePosition(CJsonWriter &json,const string symbol,const long type,const double volume,
                                   const long position_id,const long magic)
     {
      double contract_size=0;
      double step=0;
      double minimum=0;
      string base="";
      string profit="";
      if(!SymbolInfoDouble(symbol,SYMBOL_TRADE_CONTRACT_SIZE,contract_size) || contract_size<=0)
         return(Fail("the contract size of "+symbol+" is not available"));
      if(!SymbolInfoDouble(symbol,SYMBOL_VOLUME_STEP,step) || step<=0)
         return(Fail("the volume step of "+symbol+" is not available"));
      if(!SymbolInfoDouble(symbol,SYMBOL_VOLUME_MIN,minimum))
         return(Fail("the minimum volume of "+symbol+" is not available"));
      if(!SymbolInfoString(symbol,SYMBOL_CURRENCY_BASE,base) || !SymbolInfoString(symbol,SYMBOL_CURRENCY_PROFIT,profit))
         return(Fail("the currencies of "+symbol+" are not available"));
      int digits=DecimalsOf(step);
      json.BeginObject();
      json.KeyStr("symbol",symbol);
      json.KeyStr("side",type==POSITION_TYPE_BUY ? "buy" : "sell");
      json.KeyStr("volume",DoubleToString(volume,digits));
      json.KeyInt("position_id",position_id);
      json.KeyInt("magic",magic);
      json.KeyStr("contract_size",DoubleToString(contract_size,DecimalsOf(contract_size)));
      json.KeyStr("base_currency",base);
      json.KeyStr("profit_currency",profit);
      json.KeyStr("volume_step",DoubleToString(step,digits));
      json.KeyStr("volume_min",DoubleToString(minimum,MathMax(digits,DecimalsOf(minimum))));
      json.EndObject();
      return(true);
     }

public:
                     CPositionTable(void) { m_error=""; }
   string            LastError(void) const { return(m_error); }

   //--- the snapshot body; false when the table cannot be read whole (PROTOCOL.md 4.2: never send part of it)
   bool              Build(const CMagicFilter &filter,const string reason,const SDealHint &deal,string &body,int &copied)
     {
      m_error="";
      copied=0;
      CJsonWriter json;
      json.BeginObject();
      json.KeyStr("reason",reason);
      json.Key("positions");
      json.BeginArray();
      int total=PositionsTotal();
      for(int i=0; i<total; i++)
        {
         ulong ticket=PositionGetTicket(i);
         if(ticket==0)
            return(Fail("position "+IntegerToString(i)+" of "+IntegerToString(total)+" could not be read"));
         long magic=PositionGetInteger(POSITION_MAGIC);
         if(!filter.Passes(magic))
            continue;
         string symbol=PositionGetString(POSITION_SYMBOL);
         long   type=PositionGetInteger(POSITION_TYPE);
         double volume=PositionGetDouble(POSITION_VOLUME);
         long   position_id=PositionGetInteger(POSITION_IDENTIFIER);
         if(!WritePosition(json,symbol,type,volume,position_id,magic))
            return(false);
         copied++;
        }
      json.EndArray();
      json.Key("deal");
      if(deal.valid)
        {
         json.BeginObject();
         json.KeyInt("ticket",deal.ticket);
         json.KeyInt("position_id",deal.position_id);
         json.KeyStr("symbol",deal.symbol);
         json.KeyStr("entry",deal.entry);
         json.KeyStr("volume",DoubleToString(deal.volume,deal.volume_digits));
         json.KeyInt("magic",deal.magic);
         if(deal.price>0)
            json.KeyStr("price",DoubleToString(deal.price,deal.price_digits));
         json.EndObject();
        }
      else
         json.Null();
      json.EndObject();
      body=json.Text();
      return(true);
     }

   //--- reads a deal from history; false for deals that are not trades (balance, credit, commission)
   static bool       ReadDeal(const ulong ticket,SDealHint &deal)
     {
      deal.valid=false;
      if(!HistoryDealSelect(ticket))
         return(false);
      long type=HistoryDealGetInteger(ticket,DEAL_TYPE);
      if(type!=DEAL_TYPE_BUY && type!=DEAL_TYPE_SELL)
         return(false);
      long entry=HistoryDealGetInteger(ticket,DEAL_ENTRY);
      deal.ticket=(long)ticket;
      deal.position_id=HistoryDealGetInteger(ticket,DEAL_POSITION_ID);
      deal.symbol=HistoryDealGetString(ticket,DEAL_SYMBOL);
      deal.magic=HistoryDealGetInteger(ticket,DEAL_MAGIC);
      deal.volume=HistoryDealGetDouble(ticket,DEAL_VOLUME);
      double step=0;
      deal.volume_digits=(SymbolInfoDouble(deal.symbol,SYMBOL_VOLUME_STEP,step) && step>0 ? DecimalsOf(step) : 2);
      deal.price=HistoryDealGetDouble(ticket,DEAL_PRICE);
      long digits=0;
      deal.price_digits=(SymbolInfoInteger(deal.symbol,SYMBOL_DIGITS,digits) ? (int)digits : 8);
      if(entry==DEAL_ENTRY_IN)
         deal.entry="in";
      else if(entry==DEAL_ENTRY_OUT)
         deal.entry="out";
      else if(entry==DEAL_ENTRY_INOUT)
         deal.entry="inout";
      else if(entry==DEAL_ENTRY_OUT_BY)
         deal.entry="out_by";
      else
         return(false);
      deal.valid=true;
      return(true);
     }
  };

#endif
