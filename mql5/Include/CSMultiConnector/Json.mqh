//+------------------------------------------------------------------+
//|                                                         Json.mqh |
//|   A JSON writer with correct escaping, and a small reader for    |
//|   the sidecar's replies. Numbers are kept as text, so 64-bit     |
//|   tickets and decimal quantities never pass through a double.    |
//+------------------------------------------------------------------+
#ifndef CSMC_JSON_MQH
#define CSMC_JSON_MQH

#define JSON_MAX_DEPTH 32

//+------------------------------------------------------------------+
//| Builds one compact JSON text. Commas are placed by the writer,   |
//| so callers only say what comes next.                             |
//+------------------------------------------------------------------+
class CJsonWriter
  {
private:
   string            m_text;
   bool              m_first[JSON_MAX_DEPTH];
   int               m_depth;
   bool              m_after_key;

   void              Separate(void)
     {
      if(m_after_key)
        {
         m_after_key=false;
         return;
        }
      if(m_depth>0)
        {
         if(!m_first[m_depth-1])
            m_text+=",";
         m_first[m_depth-1]=false;
        }
     }
   void              Open(const string bracket)
     {
      Separate();
      m_text+=bracket;
      if(m_depth<JSON_MAX_DEPTH)
        {
         m_first[m_depth]=true;
         m_depth++;
        }
     }
   void              Close(const string bracket)
     {
      m_text+=bracket;
      if(m_depth>0)
         m_depth--;
     }

public:
                     CJsonWriter(void) : m_depth(0), m_after_key(false) { m_text=""; }
   string            Text(void) const { return(m_text); }

   void              BeginObject(void) { Open("{"); }
   void              EndObject(void) { Close("}"); }
   void              BeginArray(void) { Open("["); }
   void              EndArray(void) { Close("]"); }

   void              Key(const string name)
     {
      Separate();
      m_text+=Quote(name)+":";
      m_after_key=true;
     }
   void              Str(const string value) { Separate(); m_text+=Quote(value); }
   void              Int(const long value) { Separate(); m_text+=IntegerToString(value); }
   void              Bool(const bool value) { Separate(); m_text+=(value ? "true" : "false"); }
   void              Null(void) { Separate(); m_text+="null"; }
   //--- a value that is already valid JSON text (e.g. an object built by another writer)
   void              Raw(const string json) { Separate(); m_text+=json; }

   void              KeyStr(const string name,const string value) { Key(name); Str(value); }
   void              KeyInt(const string name,const long value) { Key(name); Int(value); }
   void              KeyBool(const string name,const bool value) { Key(name); Bool(value); }

   //--- RFC 8259 escaping: quote, backslash and control characters; everything else stays as it is
   static string     Quote(const string value)
     {
      string out="\"";
      int    length=StringLen(value);
      int    start=0;
      for(int i=0; i<length; i++)
        {
         ushort c=StringGetCharacter(value,i);
         if(c>=0x20 && c!='"' && c!='\\')
            continue;
         if(i>start)
            out+=StringSubstr(value,start,i-start);
         start=i+1;
         if(c=='"')
            out+="\\\"";
         else if(c=='\\')
            out+="\\\\";
         else if(c=='\n')
            out+="\\n";
         else if(c=='\r')
            out+="\\r";
         else if(c=='\t')
            out+="\\t";
         else
            out+=StringFormat("\\u%04x",(int)c);
        }
      if(length>start)
         out+=StringSubstr(value,start,length-start);
      return(out+"\"");
     }
  };

enum ENUM_JSON_TYPE
  {
   JSON_NULL,
   JSON_BOOL,
   JSON_NUMBER,
   JSON_STRING,
   JSON_ARRAY,
   JSON_OBJECT
  };

//--- one value of a parsed document; children are linked through `next`
struct SJsonNode
  {
   ENUM_JSON_TYPE    type;
   string            key;
   string            text;
   int               first_child;
   int               next;
  };

//+------------------------------------------------------------------+
//| A parsed JSON document: a flat table of nodes, node 0 the root.  |
//+------------------------------------------------------------------+
class CJsonDoc
  {
private:
   SJsonNode         m_nodes[];
   int               m_count;
   string            m_src;
   int               m_pos;
   int               m_len;
   string            m_error;

   int               NewNode(const ENUM_JSON_TYPE type)
     {
      if(m_count>=ArraySize(m_nodes))
         ArrayResize(m_nodes,m_count+1,m_count+16);
      m_nodes[m_count].type=type;
      m_nodes[m_count].key="";
      m_nodes[m_count].text="";
      m_nodes[m_count].first_child=-1;
      m_nodes[m_count].next=-1;
      m_count++;
      return(m_count-1);
     }
   bool              Fail(const string what)
     {
      if(m_error=="")
         m_error=what+" at character "+IntegerToString(m_pos);
      return(false);
     }
   ushort            Peek(void) const { return(m_pos<m_len ? StringGetCharacter(m_src,m_pos) : 0); }
   void              SkipSpace(void)
     {
      while(m_pos<m_len)
        {
         ushort c=StringGetCharacter(m_src,m_pos);
         if(c!=' ' && c!='\t' && c!='\n' && c!='\r')
            break;
         m_pos++;
        }
     }
   bool              Literal(const string word)
     {
      if(StringSubstr(m_src,m_pos,StringLen(word))!=word)
         return(Fail("unexpected text"));
      m_pos+=StringLen(word);
      return(true);
     }
   int               HexDigit(const ushort c) const
     {
      if(c>='0' && c<='9')
         return(c-'0');
      if(c>='a' && c<='f')
         return(c-'a'+10);
      if(c>='A' && c<='F')
         return(c-'A'+10);
      return(-1);
     }
   bool              ParseString(string &out)
     {
      out="";
      m_pos++;  // opening quote
      int start=m_pos;
      while(m_pos<m_len)
        {
         ushort c=StringGetCharacter(m_src,m_pos);
         if(c=='"')
           {
            if(m_pos>start)
               out+=StringSubstr(m_src,start,m_pos-start);
            m_pos++;
            return(true);
           }
         if(c<0x20)
            return(Fail("control character in a string"));
         if(c!='\\')
           {
            m_pos++;
            continue;
           }
         if(m_pos>start)
            out+=StringSubstr(m_src,start,m_pos-start);
         m_pos++;
         if(m_pos>=m_len)
            break;
         ushort e=StringGetCharacter(m_src,m_pos);
         m_pos++;
         if(e=='"' || e=='\\' || e=='/')
            out+=ShortToString(e);
         else if(e=='n')
            out+="\n";
         else if(e=='r')
            out+="\r";
         else if(e=='t')
            out+="\t";
         else if(e=='b')
            out+=ShortToString(8);
         else if(e=='f')
            out+=ShortToString(12);
         else if(e=='u')
           {
            if(m_pos+4>m_len)
               return(Fail("short \\u escape"));
            int unit=0;
            for(int i=0; i<4; i++)
              {
               int digit=HexDigit(StringGetCharacter(m_src,m_pos+i));
               if(digit<0)
                  return(Fail("bad \\u escape"));
               unit=unit*16+digit;
              }
            m_pos+=4;
            //--- strings are UTF-16 in MQL5, so a surrogate pair is simply two units in a row
            out+=ShortToString((ushort)unit);
           }
         else
            return(Fail("bad escape"));
         start=m_pos;
        }
      return(Fail("unterminated string"));
     }
   bool              ParseNumber(const int node)
     {
      int start=m_pos;
      while(m_pos<m_len)
        {
         ushort c=StringGetCharacter(m_src,m_pos);
         if(!((c>='0' && c<='9') || c=='-' || c=='+' || c=='.' || c=='e' || c=='E'))
            break;
         m_pos++;
        }
      if(m_pos==start)
         return(Fail("unexpected character"));
      m_nodes[node].text=StringSubstr(m_src,start,m_pos-start);
      return(true);
     }
   bool              ParseValue(const int node,const int depth)
     {
      if(depth>JSON_MAX_DEPTH)
         return(Fail("nested too deeply"));
      SkipSpace();
      ushort c=Peek();
      if(c=='{')
         return(ParseContainer(node,depth,true));
      if(c=='[')
         return(ParseContainer(node,depth,false));
      if(c=='"')
        {
         m_nodes[node].type=JSON_STRING;
         string text;
         if(!ParseString(text))
            return(false);
         m_nodes[node].text=text;
         return(true);
        }
      if(c=='t' || c=='f')
        {
         m_nodes[node].type=JSON_BOOL;
         m_nodes[node].text=(c=='t' ? "true" : "false");
         return(Literal(c=='t' ? "true" : "false"));
        }
      if(c=='n')
        {
         m_nodes[node].type=JSON_NULL;
         return(Literal("null"));
        }
      m_nodes[node].type=JSON_NUMBER;
      return(ParseNumber(node));
     }
   bool              ParseContainer(const int node,const int depth,const bool is_object)
     {
      m_nodes[node].type=(is_object ? JSON_OBJECT : JSON_ARRAY);
      ushort closing=(is_object ? '}' : ']');
      m_pos++;
      SkipSpace();
      if(Peek()==closing)
        {
         m_pos++;
         return(true);
        }
      int last=-1;
      while(true)
        {
         string key="";
         if(is_object)
           {
            SkipSpace();
            if(Peek()!='"')
               return(Fail("expected a member name"));
            if(!ParseString(key))
               return(false);
            SkipSpace();
            if(Peek()!=':')
               return(Fail("expected ':'"));
            m_pos++;
           }
         int child=NewNode(JSON_NULL);
         m_nodes[child].key=key;
         if(last<0)
            m_nodes[node].first_child=child;
         else
            m_nodes[last].next=child;
         last=child;
         if(!ParseValue(child,depth+1))
            return(false);
         SkipSpace();
         ushort c=Peek();
         m_pos++;
         if(c==closing)
            return(true);
         if(c!=',')
            return(Fail("expected ',' or a closing bracket"));
        }
      return(false);
     }

public:
                     CJsonDoc(void) : m_count(0), m_pos(0), m_len(0) { m_src=""; m_error=""; }

   //--- false with Error() set when the text is not one JSON value
   bool              Parse(const string text)
     {
      m_count=0;
      m_error="";
      m_src=text;
      m_pos=0;
      m_len=StringLen(text);
      int root=NewNode(JSON_NULL);
      if(!ParseValue(root,0))
         return(false);
      SkipSpace();
      if(m_pos!=m_len)
         return(Fail("text after the value"));
      m_src="";
      return(true);
     }
   string            Error(void) const { return(m_error); }

   ENUM_JSON_TYPE    Type(const int node) const { return(node>=0 && node<m_count ? m_nodes[node].type : JSON_NULL); }
   string            Text(const int node) const { return(node>=0 && node<m_count ? m_nodes[node].text : ""); }
   int               FirstChild(const int node) const { return(node>=0 && node<m_count ? m_nodes[node].first_child : -1); }
   int               Next(const int node) const { return(node>=0 && node<m_count ? m_nodes[node].next : -1); }

   //--- the member `key` of object `node`, or -1
   int               Member(const int node,const string key) const
     {
      if(Type(node)!=JSON_OBJECT)
         return(-1);
      for(int child=m_nodes[node].first_child; child>=0; child=m_nodes[child].next)
         if(m_nodes[child].key==key)
            return(child);
      return(-1);
     }
   string            GetStr(const int node,const string key,const string fallback) const
     {
      int member=Member(node,key);
      if(member<0 || m_nodes[member].type==JSON_NULL)
         return(fallback);
      return(m_nodes[member].text);
     }
   long              GetInt(const int node,const string key,const long fallback) const
     {
      int member=Member(node,key);
      if(member<0 || m_nodes[member].type!=JSON_NUMBER)
         return(fallback);
      return(StringToInteger(m_nodes[member].text));
     }
   bool              GetBool(const int node,const string key,const bool fallback) const
     {
      int member=Member(node,key);
      if(member<0 || m_nodes[member].type!=JSON_BOOL)
         return(fallback);
      return(m_nodes[member].text=="true");
     }
  };

#endif
