//+------------------------------------------------------------------+
//|                                                         Zmtp.mqh |
//|   A ZMTP 3.0 DEALER peer with the NULL mechanism, written on the |
//|   terminal's Socket* functions: no libzmq.dll to install.        |
//|   Nothing here waits for the network: every call reads only what |
//|   SocketIsReadable reports, and sends are bounded by a timeout.  |
//+------------------------------------------------------------------+
#ifndef CSMC_ZMTP_MQH
#define CSMC_ZMTP_MQH

#include "Defines.mqh"

#define ZMTP_GREETING_SIZE   64
#define ZMTP_FLAG_MORE       0x01
#define ZMTP_FLAG_LONG       0x02
#define ZMTP_FLAG_COMMAND    0x04
//--- per call, so that a flood of input cannot hold the terminal thread
#define ZMTP_READ_BUDGET     (1024*1024)
//--- messages larger than this are skipped (PROTOCOL.md 2.6 asks for at least 2 MiB)
#define ZMTP_MAX_MESSAGE     (4*1024*1024)

enum ENUM_ZMTP_STATE
  {
   ZMTP_CLOSED,     // no connection
   ZMTP_GREETING,   // connected, our greeting sent, reading the peer's
   ZMTP_HANDSHAKE,  // greetings exchanged, our READY sent, reading the peer's
   ZMTP_READY       // messages flow
  };

//+------------------------------------------------------------------+
//| One connection to the sidecar's ROUTER socket.                   |
//+------------------------------------------------------------------+
class CZmtpConnection
  {
private:
   int               m_socket;
   ENUM_ZMTP_STATE   m_state;
   uchar             m_in[];
   int               m_in_len;      // bytes held in m_in
   int               m_in_pos;      // first byte not yet parsed
   long              m_skip;        // bytes of an oversized frame still to discard
   string            m_inbox[];
   int               m_inbox_count;
   string            m_error;       // why the connection was closed, for the user
   int               m_last_error;  // GetLastError() of the failed socket call
   int               m_dropped;     // oversized messages skipped
   bool              m_peer_closed;

   bool              Fail(const string reason)
     {
      m_error=reason;
      Close();
      return(false);
     }
   bool              SendBytes(const uchar &bytes[],const int count)
     {
      ResetLastError();
      int sent=SocketSend(m_socket,bytes,(uint)count);
      if(sent==count)
         return(true);
      m_last_error=GetLastError();
      //--- a partial frame would corrupt the stream: start again on a new connection
      return(Fail("sending to the sidecar failed (error "+IntegerToString(m_last_error)+")"));
     }
   bool              SendGreeting(void)
     {
      uchar greeting[ZMTP_GREETING_SIZE];
      ArrayInitialize(greeting,0);
      greeting[0]=0xFF;
      greeting[9]=0x7F;
      greeting[10]=3;   // version 3.0: no ZMTP heartbeats to answer
      greeting[11]=0;
      greeting[12]='N';
      greeting[13]='U';
      greeting[14]='L';
      greeting[15]='L';
      return(SendBytes(greeting,ZMTP_GREETING_SIZE));
     }
   bool              SendReady(void)
     {
      //--- READY with one property, Socket-Type=DEALER, and deliberately no Identity
      uchar body[];
      string name="READY";
      string property="Socket-Type";
      string value="DEALER";
      int size=1+StringLen(name)+1+StringLen(property)+4+StringLen(value);
      ArrayResize(body,2+size);
      int at=0;
      body[at++]=ZMTP_FLAG_COMMAND;
      body[at++]=(uchar)size;
      at=PutShortString(body,at,name);
      at=PutShortString(body,at,property);
      body[at++]=0;
      body[at++]=0;
      body[at++]=0;
      body[at++]=(uchar)StringLen(value);
      for(int i=0; i<StringLen(value); i++)
         body[at++]=(uchar)StringGetCharacter(value,i);
      return(SendBytes(body,at));
     }
   int               PutShortString(uchar &bytes[],int at,const string text)
     {
      bytes[at++]=(uchar)StringLen(text);
      for(int i=0; i<StringLen(text); i++)
         bytes[at++]=(uchar)StringGetCharacter(text,i);
      return(at);
     }
   //--- reads what the socket holds right now into m_in; a peer that closed is noted, its last bytes still parsed
   bool              Receive(void)
     {
      m_peer_closed=!SocketIsConnected(m_socket);
      int budget=ZMTP_READ_BUDGET;
      while(budget>0)
        {
         uint readable=SocketIsReadable(m_socket);
         if(readable==0)
            break;
         int want=(int)MathMin(readable,(uint)budget);
         uchar chunk[];
         ResetLastError();
         int got=SocketRead(m_socket,chunk,(uint)want,1);
         if(got<=0)
           {
            //--- SocketIsReadable answers 1 for an empty buffer and leaves the real check to this read, which
            //--- then times out: with the connection still up that is "nothing yet", not a lost link
            m_last_error=GetLastError();
            if(!SocketIsConnected(m_socket))
               m_peer_closed=true;
            break;
           }
         Append(chunk,got);
         budget-=got;
        }
      return(true);
     }
   void              Append(const uchar &chunk[],const int count)
     {
      if(m_in_pos>0 && m_in_pos==m_in_len)
        {
         m_in_pos=0;
         m_in_len=0;
        }
      else if(m_in_pos>65536)
        {
         //--- keep only the unparsed tail
         ArrayCopy(m_in,m_in,0,m_in_pos,m_in_len-m_in_pos);
         m_in_len-=m_in_pos;
         m_in_pos=0;
        }
      if(ArraySize(m_in)<m_in_len+count)
         ArrayResize(m_in,m_in_len+count,65536);
      ArrayCopy(m_in,chunk,m_in_len,0,count);
      m_in_len+=count;
     }
   int               Available(void) const { return(m_in_len-m_in_pos); }
   bool              ParseGreeting(void)
     {
      //--- libzmq may send its greeting in pieces: wait until all 64 bytes are here
      if(Available()<ZMTP_GREETING_SIZE)
        {
         //--- refuse early what cannot be ZMTP, so a wrong port is reported at once
         if(Available()>=1 && m_in[m_in_pos]!=0xFF)
            return(Fail("the program on this port does not speak ZMTP"));
         return(true);
        }
      if(m_in[m_in_pos]!=0xFF || m_in[m_in_pos+9]!=0x7F)
         return(Fail("the program on this port does not speak ZMTP"));
      if(m_in[m_in_pos+10]<3)
         return(Fail("the peer speaks ZMTP "+IntegerToString(m_in[m_in_pos+10])+", not 3"));
      string mechanism=CharArrayToString(m_in,m_in_pos+12,20,CP_ACP);
      if(mechanism!="NULL")
         return(Fail("the peer wants the ZMTP security mechanism '"+mechanism+"', not NULL"));
      m_in_pos+=ZMTP_GREETING_SIZE;
      m_state=ZMTP_HANDSHAKE;
      return(SendReady());
     }
   //--- one complete frame at m_in_pos: its flags, where its payload starts and how long it is
   bool              NextFrame(int &flags,int &payload_at,long &size)
     {
      if(Available()<2)
         return(false);
      flags=m_in[m_in_pos];
      int header=2;
      size=m_in[m_in_pos+1];
      if((flags & ZMTP_FLAG_LONG)!=0)
        {
         header=9;
         if(Available()<header)
            return(false);
         size=0;
         for(int i=1; i<=8; i++)
            size=(size<<8)|m_in[m_in_pos+i];
        }
      payload_at=m_in_pos+header;
      if(size>ZMTP_MAX_MESSAGE || size<0)
        {
         //--- too large to hold: drop it as it streams in
         m_in_pos+=header;
         m_skip=size;
         return(false);
        }
      if(Available()<header+size)
         return(false);
      m_in_pos+=header+(int)size;
      return(true);
     }
   bool              ParseFrames(void)
     {
      while(m_state!=ZMTP_CLOSED)
        {
         if(m_skip>0)
           {
            long drop=MathMin(m_skip,(long)Available());
            m_in_pos+=(int)drop;
            m_skip-=drop;
            if(m_skip>0)
               return(true);
            m_dropped++;
            continue;
           }
         int  flags=0;
         int  payload_at=0;
         long size=0;
         if(!NextFrame(flags,payload_at,size))
           {
            if(m_skip>0)
               continue;
            return(true);
           }
         if((flags & ZMTP_FLAG_COMMAND)!=0)
           {
            if(!HandleCommand(payload_at,(int)size))
               return(false);
            continue;
           }
         if(m_state!=ZMTP_READY)
            return(Fail("the peer sent a message before its READY"));
         if((flags & ZMTP_FLAG_MORE)!=0)
            continue;  // the protocol has no multi-frame messages; the last frame arrives on its own
         AddToInbox(size==0 ? "" : CharArrayToString(m_in,payload_at,(int)size,CP_UTF8));
        }
      return(false);
     }
   bool              HandleCommand(const int at,const int size)
     {
      int name_length=(size>0 ? m_in[at] : 0);
      string name=(name_length>0 && name_length<size ? CharArrayToString(m_in,at+1,name_length,CP_ACP) : "");
      if(name=="ERROR")
        {
         int reason_length=(size>name_length+1 ? m_in[at+1+name_length] : 0);
         return(Fail("the peer refused the connection: "+CharArrayToString(m_in,at+2+name_length,reason_length,CP_ACP)));
        }
      if(m_state==ZMTP_HANDSHAKE)
        {
         if(name!="READY")
            return(Fail("the peer sent '"+name+"' instead of READY"));
         m_state=ZMTP_READY;
        }
      //--- other commands (PING of ZMTP 3.1, SUBSCRIBE, ...) do not concern a 3.0 DEALER
      return(true);
     }
   void              AddToInbox(const string payload)
     {
      if(m_inbox_count>=ArraySize(m_inbox))
         ArrayResize(m_inbox,m_inbox_count+1,16);
      m_inbox[m_inbox_count++]=payload;
     }

public:
                     CZmtpConnection(void) : m_socket(INVALID_HANDLE), m_state(ZMTP_CLOSED), m_in_len(0),
                     m_in_pos(0), m_skip(0), m_inbox_count(0), m_last_error(0), m_dropped(0), m_peer_closed(false) { m_error=""; }
                    ~CZmtpConnection(void) { Close(); }

   bool              IsReady(void) const { return(m_state==ZMTP_READY); }
   bool              IsOpen(void) const { return(m_state!=ZMTP_CLOSED); }
   string            LastError(void) const { return(m_error); }
   int               LastSocketError(void) const { return(m_last_error); }
   //--- how many oversized messages were skipped since the last call
   int               TakeDropped(void)
     {
      int dropped=m_dropped;
      m_dropped=0;
      return(dropped);
     }

   //--- starts a connection; false with LastError()/LastSocketError() when it cannot be made
   bool              Open(const string host,const int port)
     {
      Close();
      m_error="";
      m_last_error=0;
      ResetLastError();
      m_socket=SocketCreate();
      if(m_socket==INVALID_HANDLE)
        {
         m_last_error=GetLastError();
         m_error="no socket available (error "+IntegerToString(m_last_error)+")";
         return(false);
        }
      ResetLastError();
      if(!SocketConnect(m_socket,host,(uint)port,CSMC_SOCKET_WAIT_MS))
        {
         m_last_error=GetLastError();
         m_error="cannot connect to "+host+":"+IntegerToString(port)+" (error "+IntegerToString(m_last_error)+")";
         SocketClose(m_socket);
         m_socket=INVALID_HANDLE;
         return(false);
        }
      SocketTimeouts(m_socket,CSMC_SOCKET_WAIT_MS,CSMC_SOCKET_WAIT_MS);
      m_in_len=0;
      m_in_pos=0;
      m_skip=0;
      m_state=ZMTP_GREETING;
      return(SendGreeting());
     }
   void              Close(void)
     {
      if(m_socket!=INVALID_HANDLE)
         SocketClose(m_socket);
      m_socket=INVALID_HANDLE;
      m_state=ZMTP_CLOSED;
      m_in_len=0;
      m_in_pos=0;
      m_skip=0;
     }

   //--- reads and parses whatever has arrived; false once the connection is lost or broken
   bool              Poll(void)
     {
      if(m_state==ZMTP_CLOSED)
         return(false);
      if(!Receive())
         return(false);
      if(m_state==ZMTP_GREETING && !ParseGreeting())
         return(false);
      if(m_state!=ZMTP_GREETING && !ParseFrames())
         return(false);
      if(m_peer_closed)
         return(Fail("the sidecar closed the connection"));
      return(true);
     }

   //--- hands over the received messages, oldest first, and empties the inbox
   int               TakeInbox(string &messages[])
     {
      int count=m_inbox_count;
      ArrayResize(messages,count);
      for(int i=0; i<count; i++)
         messages[i]=m_inbox[i];
      m_inbox_count=0;
      return(count);
     }

   //--- one single-frame message; false when the connection broke (it is closed then)
   bool              Send(const string payload)
     {
      if(m_state!=ZMTP_READY)
         return(false);
      uchar utf8[];
      int length=StringToCharArray(payload,utf8,0,WHOLE_ARRAY,CP_UTF8)-1;  // without the terminating zero
      if(length<0)
         length=0;
      int header=(length>255 ? 9 : 2);
      uchar frame[];
      ArrayResize(frame,header+length);
      if(header==2)
        {
         frame[0]=0;
         frame[1]=(uchar)length;
        }
      else
        {
         frame[0]=ZMTP_FLAG_LONG;
         long size=length;
         for(int i=8; i>=1; i--)
           {
            frame[i]=(uchar)(size & 0xFF);
            size>>=8;
           }
        }
      if(length>0)
         ArrayCopy(frame,utf8,header,0,length);
      return(SendBytes(frame,header+length));
     }
  };

#endif
