//+------------------------------------------------------------------+
//|                                                       Checks.mqh |
//| Cases of the shim self-test that need no terminal state: strings,|
//| formatting, UTF-8, arrays, math, time and hashing. Each prints   |
//| "Name=value" lines that tests/ea/test_shim.py compares.          |
//+------------------------------------------------------------------+
#property strict

//+------------------------------------------------------------------+
//| Hexadecimal text of the first count bytes                        |
//+------------------------------------------------------------------+
string Hex(const uchar &data[], int count)
  {
   string text = "";
   for(int i = 0; i < count; i++)
      text += StringFormat("%02x", data[i]);
   return text;
  }

//+------------------------------------------------------------------+
//| UTF-16 code units of a string, as hex numbers                    |
//+------------------------------------------------------------------+
string CodeUnits(const string text)
  {
   string units = "";
   for(int i = 0; i < StringLen(text); i++)
      units += (i > 0 ? (string)" " : (string)"") + StringFormat("%x", StringGetCharacter(text, i));
   return units;
  }

//+------------------------------------------------------------------+
//| Comma-separated values of an int array                           |
//+------------------------------------------------------------------+
string Join(const int &values[])
  {
   string text = "";
   for(int i = 0; i < ArraySize(values); i++)
     {
      if(i > 0)
         StringAdd(text, ",");
      text += IntegerToString(values[i]);
     }
   return text;
  }

//+------------------------------------------------------------------+
//| SHA-256 of the UTF-8 bytes of a string, as hex                   |
//+------------------------------------------------------------------+
string Sha256(const string text)
  {
   uchar data[], key[], digest[];
   int length = StringToCharArray(text, data, 0, WHOLE_ARRAY, CP_UTF8) - 1;
   ArrayResize(data, length);
   int size = CryptEncode(CRYPT_HASH_SHA256, data, key, digest);
   return Hex(digest, size);
  }

//+------------------------------------------------------------------+
void RunStrings()
  {
   string padded = "  Hello, World  ";
   Print("StringLen=", StringLen(padded));
   string trimmed = padded;
   int left = StringTrimLeft(trimmed);
   int right = StringTrimRight(trimmed);
   Print("Trim=", trimmed, "|", left, "|", right);
   Print("StringSubstr=", StringSubstr(trimmed, 7), "|", StringSubstr(trimmed, 0, 5), "|", StringSubstr(trimmed, 50), "|");
   Print("StringFind=", StringFind(trimmed, "o"), " ", StringFind(trimmed, "o", 5), " ", StringFind(trimmed, "zz"));
   string parts[];
   int count = StringSplit("a,,b,", ',', parts);
   Print("StringSplit=", count, ":", parts[0], "|", parts[1], "|", parts[2], "|", parts[3]);
   int empty_count = StringSplit("", ',', parts);
   Print("StringSplitEmpty=", empty_count, " ", ArraySize(parts));
   Print("StringGetCharacter=", StringGetCharacter(trimmed, 0), " ", StringGetCharacter(trimmed, 99));
   string letters = "abc";
   StringSetCharacter(letters, 1, 'X');
   StringSetCharacter(letters, 3, 'd');
   Print("StringSetCharacter=", letters);
   StringSetCharacter(letters, 2, 0);
   Print("StringSetCharacterCut=", letters, " ", StringLen(letters));
   string replaced = "one two one";
   int replacements = StringReplace(replaced, "one", "1");
   Print("StringReplace=", replaced, " ", replacements);
   string upper = "MiXeD äÖ";
   string lower = upper;
   StringToUpper(upper);
   StringToLower(lower);
   Print("Case=", upper, "|", lower);
   Print("StringCompare=", StringCompare("a", "b"), " ", StringCompare("b", "a"), " ", StringCompare("A", "a", false), " ",
         StringCompare("A", "a"));
   Print("ShortToString=", ShortToString(0x20AC), " CharToString=", CharToString(65));
   Print("IntegerToString=", IntegerToString(42), "|", IntegerToString(42, 6), "|", IntegerToString(-7, 4, '0'), "|",
         IntegerToString(LONG_MAX));
   Print("StringToInteger=", StringToInteger("123abc"), " ", StringToInteger("-45"), " ", StringToInteger("x"));
   Print("StringToDouble=", StringToDouble("1.25"), " ", StringToDouble("abc"));
   Print("DoubleToString=", DoubleToString(3.14159, 2), "|", DoubleToString(2.7, 0), "|", DoubleToString(1.0 / 3), "|",
         DoubleToString(1234.5, -2));
   string joined = "x";
   joined += "y";
   joined = joined + "z";
   joined = "w" + joined;
   Print("Concat=", joined, " ", joined == "wxyz", " ", "wxyz" == joined, " ", joined != "q", " ", "a" < joined, " ",
         joined > "a");
   string concatenated;
   int length = StringConcatenate(concatenated, "n=", 5, " d=", 0.5, " b=", true);
   Print("StringConcatenate=", concatenated, " ", length);
   string seventeen = "17";
   string quarter = "0.25";
   Print("Casts=", (string)42, "|", (string)2.5, "|", (string)true, "|", (int)seventeen, "|", (double)quarter, "|",
         string(7));
   string stars;
   StringInit(stars, 3, '*');
   StringAdd(stars, "!");
   Print("StringInit=", stars);
   string filled = "abc";
   StringFill(filled, '-');
   Print("StringFill=", filled);
   Print("Print:", 1, " ", -2, " ", 0.1, " ", 1e20, " ", true, " ", false, " ", (uchar)200, " ", ULONG_MAX, " ",
         (float)0.25);
   Print("EnumToString=", EnumToString(CASE_FORMAT), " ", EnumToString(CASE_INFO), " ", EnumToString(DEAL_ENTRY_OUT_BY),
         " ", EnumToString(TRADE_TRANSACTION_DEAL_ADD), " ", EnumToString((ENUM_SELFTEST_CASE)99));
  }

//+------------------------------------------------------------------+
void RunFormat()
  {
   Print("Format1=", StringFormat("%d|%5d|%-5d|%05d|%+d|%i", 42, 42, 42, 42, 42, -3));
   Print("Format2=", StringFormat("%I64d|%lld|%d|%I64u", (long)5000000000, (long)-5000000000, (long)5000000000,
                                  ULONG_MAX));
   Print("Format3=", StringFormat("%u|%x|%X|%o|%c|%%", 7, 255, 255, 8, 'A'));
   Print("Format4=", StringFormat("%f|%.2f|%8.3f|%e|%g|%.3g", 1.5, 2.346, 3.14159, 12345.678, 0.0001, 1234.5678));
   Print("Format5=", StringFormat("%s|%10s|%-6s|%.3s|%s|%s", "abc", "right", "left", "truncate", 12, true));
   Print("Format6=", StringFormat("%s=%d (%s)", "ünï", 3, "€"));
   PrintFormat("PrintFormat %s %.1f", "ok", 2.26);
  }

//+------------------------------------------------------------------+
void RunUtf8()
  {
   string text = "Grüße €𝄞";
   Print("Utf8Len=", StringLen(text));
   uchar bytes[];
   int copied = StringToCharArray(text, bytes, 0, WHOLE_ARRAY, CP_UTF8);
   Print("Utf8Bytes=", copied, " ", Hex(bytes, copied));
   string back = CharArrayToString(bytes, 0, WHOLE_ARRAY, CP_UTF8);
   Print("Utf8RoundTrip=", back == text, " ", back);
   uchar reused[];
   ArrayResize(reused, 40);
   int short_copy = StringToCharArray("ab", reused, 0, -1, CP_UTF8);
   Print("NoShrink=", short_copy, " ", ArraySize(reused));
   uchar part[];
   int limited = StringToCharArray("€uro", part, 0, 2, CP_UTF8);
   Print("CountLimit=", limited, " ", Hex(part, limited));
   uchar invalid[] = {0x41, 0xFF, 0x42, 0xC3, 0x28, 0xE2, 0x82};
   string decoded = CharArrayToString(invalid, 0, WHOLE_ARRAY, CP_UTF8);
   Print("Invalid=", StringLen(decoded), " ", CodeUnits(decoded));
   uchar zero[] = {0x61, 0x62, 0x00, 0x63};
   Print("StopAtZero=", CharArrayToString(zero));
   uchar ansi[];
   int ansi_count = StringToCharArray("é€", ansi);
   Print("Ansi=", ansi_count, " ", Hex(ansi, ansi_count), " ", CharArrayToString(ansi));
   uchar greeting[10];
   ArrayInitialize(greeting, 0);
   int into_fixed = StringToCharArray("NULL", greeting, 2, 4);
   Print("FixedTarget=", into_fixed, " ", greeting[1], " ", greeting[2], " ", greeting[5], " ", greeting[6]);
  }

//+------------------------------------------------------------------+
void RunArrays()
  {
   int values[];
   int resized = ArrayResize(values, 5);
   int size = ArraySize(values);
   int refused = ArrayResize(values, -1);
   Print("ArrayResize=", resized, " ", size, " ", refused, " ", ArraySize(values), " ", ArrayIsDynamic(values));
   ArrayInitialize(values, 7);
   Print("ArrayInitialize=", Join(values));
   for(int i = 0; i < ArraySize(values); i++)
      values[i] = i * 10;
   int copy[];
   int copied_all = ArrayCopy(copy, values);
   Print("ArrayCopy=", copied_all, " ", Join(copy));
   int copied_part = ArrayCopy(copy, values, 6, 1, 2);
   Print("ArrayCopyPart=", copied_part, " ", Join(copy));
   ArrayRemove(copy, 1, 2);
   Print("ArrayRemove=", Join(copy));
   ArrayRemove(copy, 3);
   Print("ArrayRemoveTail=", Join(copy));
   int fixed[4];
   ArrayInitialize(fixed, 1);
   int copied = ArrayCopy(fixed, values, 2);
   Print("Fixed=", ArraySize(fixed), " ", copied, " ", fixed[0], ",", fixed[1], ",", fixed[2], ",", fixed[3], " ",
         ArrayIsDynamic(fixed));
   ArrayFill(values, 1, 2, -1);
   Print("ArrayFill=", Join(values));
   ArrayFree(values);
   Print("ArrayFree=", ArraySize(values));
   string names[] = {"b", "a"};
   Print("Initialised=", ArraySize(names), " ", names[0], names[1]);
   double numbers[];
   ArrayResize(numbers, 3);
   numbers[0] = 3;
   numbers[1] = 1;
   numbers[2] = 2;
   ArraySort(numbers);
   Print("ArraySort=", numbers[0], ",", numbers[1], ",", numbers[2]);
   MqlTradeTransaction transactions[];
   ArrayResize(transactions, 2);
   transactions[1].deal = 5;
   transactions[1].symbol = "X";
   Print("StructArray=", transactions[1].deal, " ", transactions[1].symbol, " ", transactions[0].deal);
   bool flags[];
   ArrayResize(flags, 2);
   flags[1] = true;
   Print("BoolArray=", flags[0], " ", flags[1]);
   MqlTradeRequest request;
   request.magic = 7;
   ZeroMemory(request);
   Print("ZeroMemory=", request.magic);
  }

//+------------------------------------------------------------------+
void RunMath()
  {
   Print("MathAbs=", MathAbs(-3), " ", MathAbs(-2.5));
   Print("MathMinMax=", MathMax(3, 4.5), " ", MathMin(3, 4.5), " ", MathMax((long)2, 7));
   Print("MathRound=", MathRound(2.5), " ", MathRound(-2.5), " ", MathFloor(-1.5), " ", MathCeil(1.2));
   Print("MathPow=", MathPow(2, 10), " MathLog10=", MathLog10(1000), " MathMod=", MathMod(7.5, 2));
   Print("MathIsValidNumber=", MathIsValidNumber(1.0), " ", MathIsValidNumber(MathLog10(-1)));
   Print("MathExpLogSqrt=", MathExp(0), " ", MathLog(1), " ", MathSqrt(16));
   Print("NormalizeDouble=", NormalizeDouble(1.23456, 2), " ", NormalizeDouble(0.125, 2));
   MathSrand(1);
   int first = MathRand();
   int second = MathRand();
   int third = MathRand();
   Print("MathRand=", first, ",", second, ",", third);
   Print("Constants=", INT_MAX, " ", LONG_MAX, " ", ULONG_MAX, " ", EMPTY_VALUE == DBL_MAX, " ", WHOLE_ARRAY, " ",
         CP_UTF8, " ", INIT_PARAMETERS_INCORRECT, " ", REASON_INITFAILED, " ", SW_SHOWMINNOACTIVE);
  }

//+------------------------------------------------------------------+
void RunTime()
  {
   Print("TimeToString=", TimeToString(1700000000), "|", TimeToString(1700000000, TIME_DATE | TIME_SECONDS), "|",
         TimeToString(1700000000, TIME_DATE), "|", TimeToString(1700000000, TIME_SECONDS));
   Print("StringToTime=", StringToTime("2023.11.14 22:13:20"));
   Print("DatetimeLiteral=", D'2023.11.14 22:13:20', " ", C'255,0,0' == clrRed);
   MqlDateTime parts;
   TimeToStruct(1700000000, parts);
   Print("TimeToStruct=", parts.year, "-", parts.mon, "-", parts.day, " ", parts.day_of_week);
   parts.hour = 0;
   Print("StructToTime=", StructToTime(parts));
   Print("TimeTradeServer=", TimeTradeServer() - TimeCurrent() <= 1, " TimeGMTOffset=", TimeGMTOffset());
   Print("TimeGMT=", TimeGMT());
   Print("TimeCurrent=", TimeCurrent());
   Print("TimeLocal=", TimeLocal());
   uint ticks = GetTickCount();
   ulong micros = GetMicrosecondCount();
   Sleep(50);
   Print("Elapsed=", GetTickCount() - ticks >= 45, " ", GetMicrosecondCount() - micros >= 45000, " ",
         GetTickCount64() >= ticks);
  }

//+------------------------------------------------------------------+
void RunCrypto()
  {
   Print("Sha256Empty=", Sha256(""));
   Print("Sha256Abc=", Sha256("abc"));
   Print("Sha256TwoBlocks=", Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"));
   uchar million[], key[], digest[];
   ArrayResize(million, 1000000);
   ArrayInitialize(million, 'a');
   int size = CryptEncode(CRYPT_HASH_SHA256, million, key, digest);
   Print("Sha256Million=", Hex(digest, size));
   uchar plain[], encoded[], decoded[];
   StringToCharArray("hello", plain, 0, 5);
   int encoded_size = CryptEncode(CRYPT_BASE64, plain, key, encoded);
   int decoded_size = CryptDecode(CRYPT_BASE64, encoded, key, decoded);
   Print("Base64=", CharArrayToString(encoded, 0, encoded_size), " ", CharArrayToString(decoded, 0, decoded_size));
   if(MQLInfoInteger(MQL_DLLS_ALLOWED) == 0)
     {
      Print("RandomSkipped=DLL imports are not allowed");
      return;
     }
   uchar random_one[], random_two[];
   ArrayResize(random_one, 16);
   ArrayResize(random_two, 16);
   bool filled = SystemFunction036(random_one, 16) && SystemFunction036(random_two, 16);
   Print("Random=", filled, " ", Hex(random_one, 16), " ", Hex(random_two, 16));
  }

//+------------------------------------------------------------------+
//| Reads past the end of an array: MetaTrader stops the program.    |
//+------------------------------------------------------------------+
void RunArrayOutOfRange()
  {
   int small[];
   ArrayResize(small, 3);
   Print("before the bad access");
   int value = small[5]; // out-of-range access
   Print("after the bad access ", value);
  }

#include "Terminal.mqh"
