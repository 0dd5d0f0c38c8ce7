//+------------------------------------------------------------------+
//|                                                  MagicFilter.mqh |
//|   Which positions are copied: those whose magic number is in the |
//|   list. Trades made by hand have magic 0; an empty list means    |
//|   "trades by hand only".                                         |
//+------------------------------------------------------------------+
#ifndef CSMC_MAGIC_FILTER_MQH
#define CSMC_MAGIC_FILTER_MQH

#define MAGIC_FILTER_MAX 256

class CMagicFilter
  {
private:
   long              m_magics[];
   int               m_count;

   static bool       IsWholeNumber(const string text)
     {
      int length=StringLen(text);
      if(length==0 || length>19)
         return(false);
      for(int i=0; i<length; i++)
        {
         ushort c=StringGetCharacter(text,i);
         if(c<'0' || c>'9')
            return(false);
        }
      //--- 19 digits may still exceed the largest magic number MQL5 can hold
      return(length<19 || StringCompare(text,"9223372036854775807")<=0);
     }

public:
                     CMagicFilter(void) : m_count(0) {}

   //--- "0, 12345" -> {0, 12345}; false with `error` saying what to type instead
   bool              Parse(const string text,string &error)
     {
      m_count=0;
      ArrayResize(m_magics,0);
      string trimmed=text;
      StringTrimLeft(trimmed);
      StringTrimRight(trimmed);
      if(trimmed=="")
         return(Add(0));
      string parts[];
      int count=StringSplit(trimmed,',',parts);
      for(int i=0; i<count; i++)
        {
         string entry=parts[i];
         StringTrimLeft(entry);
         StringTrimRight(entry);
         if(!IsWholeNumber(entry))
           {
            error="Source EA magic IDs: '"+entry+"' is not a magic number. Enter whole numbers of 0 or more "+
                  "separated by commas, e.g. 0,12345 (0 = trades made by hand); leave it empty to copy "+
                  "only trades made by hand.";
            return(false);
           }
         if(m_count>=MAGIC_FILTER_MAX)
           {
            error="Source EA magic IDs: at most "+IntegerToString(MAGIC_FILTER_MAX)+" magic numbers are allowed.";
            return(false);
           }
         Add(StringToInteger(entry));
        }
      return(true);
     }
   bool              Add(const long magic)
     {
      if(Passes(magic))
         return(true);
      ArrayResize(m_magics,m_count+1);
      m_magics[m_count++]=magic;
      return(true);
     }
   bool              Passes(const long magic) const
     {
      for(int i=0; i<m_count; i++)
         if(m_magics[i]==magic)
            return(true);
      return(false);
     }
   int               Count(void) const { return(m_count); }
   long              At(const int index) const { return(m_magics[index]); }
   string            Describe(void) const
     {
      string text="";
      for(int i=0; i<m_count; i++)
         text+=(i>0 ? "," : "")+IntegerToString(m_magics[i]);
      return(text);
     }
  };

#endif
