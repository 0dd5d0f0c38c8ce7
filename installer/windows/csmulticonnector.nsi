; CSMultiConnector for Windows: the EA into every chosen MetaTrader 5 data folder, the sidecar with its own
; Python, a `csmc` launcher, a starter profile, and an uninstaller. Built by installer/build.sh
; (`make installer`) with Debian's makensis; the defines below come from there.
;
; Command line (all optional):
;   /S                   silent: every terminal found, no questions
;   /D=<dir>             install folder (last on the line, no quotes), default %LOCALAPPDATA%\Programs\CSMultiConnector
;   /TERMINAL=<folder>   also install the EA into this data folder (a portable terminal's folder)
;   /PYTHON=<python.exe> use this Python (3.11 to 3.14, 64-bit) for the sidecar
;   /PYTHONZIP=<zip>     use this copy of the embeddable Python instead of downloading it (it is hash-checked)
; Uninstaller: /S silent; /PURGE also removes profiles, journal and logs.

Unicode true
Target amd64-unicode
ManifestDPIAware true
SetCompressor zlib    ; the payload is wheels, zip files already: LZMA would cost ~45 s for ~2% less

!ifndef VERSION | STAGE | OUTFILE | PY_EMBED_VERSION | PY_EMBED_SHA256 | PY_EMBED_TAG | PIP_WHEEL
  !error "build with installer/build.sh: VERSION, STAGE, OUTFILE and the Python pins are defined there"
!endif
!define APP "CSMultiConnector"
!define PY_EMBED_URL "https://www.python.org/ftp/python/${PY_EMBED_VERSION}/python-${PY_EMBED_VERSION}-embed-amd64.zip"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"
!define APP_PATHS_KEY "Software\Microsoft\Windows\CurrentVersion\App Paths\csmc.exe"
!define PIP_INSTALL "install --no-index --find-links $\"$INSTDIR\wheels$\" --disable-pip-version-check --no-warn-script-location --upgrade csmulticonnector"

!include MUI2.nsh
!include nsDialogs.nsh
!include LogicLib.nsh
!include FileFunc.nsh
!include WinMessages.nsh
!include StrFunc.nsh
!include TextFunc.nsh
${StrStr}
${UnStrRep}

Name "${APP} ${VERSION}"
OutFile "${OUTFILE}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${APP}"
InstallDirRegKey HKCU "Software\${APP}" "InstallDir"
BrandingText "${APP} ${VERSION}"

Var Ini            ; $PLUGINSDIR\terminals.ini: [t] count, N=folder; [sel] N=0/1; [label] N=text; [hwnd] N
Var Log            ; handle of $INSTDIR\install.log
Var PythonArg
Var PythonZip
Var Runtime        ; "venv" (an existing Python) or "python" (the embeddable one), under $INSTDIR
Var SidecarError
Var PortableEdit
Var Purge
Var PurgeBox
Var DU           ; "u": appended at run time to make dialog-unit coordinates

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_WELCOME
Page custom TerminalsPage TerminalsLeave
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_TEXT "$(FinishText)"
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
UninstPage custom un.KeepPage un.KeepLeave
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

LangString FinishText ${LANG_ENGLISH} "The EA's source is in each chosen terminal. In MetaTrader 5:$\r$\n$\r$\n\
1. Tools > Options > Expert Advisors: tick Allow DLL imports (the EA starts the sidecar) and add 127.0.0.1 \
to Allow WebRequest for listed URL.$\r$\n\
2. Open CSMultiConnector.mq5 in MetaEditor and Compile (F7).$\r$\n\
3. Put your venue's keys into the profile: %LOCALAPPDATA%\${APP}\profiles\default.toml.$\r$\n$\r$\n\
Details: install.log in the install folder."

!macro Log text
  DetailPrint `${text}`
  ${If} $Log != ""
    FileWriteUTF16LE $Log `${text}$\r$\n`
  ${EndIf}
!macroend

; --- MetaTrader 5 data folders -------------------------------------------------------------------------

; $R9 = data folder → $R8 = the terminal's installation path from origin.txt (UTF-16), or ""
Function ReadOrigin
  StrCpy $R8 ""
  ClearErrors
  FileOpen $R7 "$R9\origin.txt" r
  IfErrors done
  FileReadUTF16LE $R7 $R8
  FileClose $R7
  StrCpy $R6 $R8 1
  ${If} $R6 == "${U+FEFF}"
    StrCpy $R8 $R8 "" 1
  ${EndIf}
  trim:
    StrCpy $R6 $R8 1 -1
    ${If} $R6 == "$\r"
    ${OrIf} $R6 == "$\n"
      StrCpy $R8 $R8 -1
      Goto trim
    ${EndIf}
  done:
FunctionEnd

; stack: data folder → added to the ini, selected
Function AddTerminal
  Exch $R9
  Push $R8
  Push $R7
  Push $R6
  Push $R5
  ReadINIStr $R5 $Ini "t" "count"
  ${If} $R5 == ""
    StrCpy $R5 0
  ${EndIf}
  IntOp $R5 $R5 + 1
  WriteINIStr $Ini "t" "count" $R5
  WriteINIStr $Ini "t" $R5 $R9
  WriteINIStr $Ini "sel" $R5 "1"
  Call ReadOrigin
  ${GetFileName} $R9 $R7
  ${If} $R8 == ""
    StrCpy $R8 "$R9"
  ${Else}
    StrCpy $R8 "$R8  ($R7)"
  ${EndIf}
  WriteINIStr $Ini "label" $R5 $R8
  Pop $R5
  Pop $R6
  Pop $R7
  Pop $R8
  Pop $R9
FunctionEnd

Function FindTerminals
  StrCpy $R1 "$APPDATA\MetaQuotes\Terminal"
  ClearErrors
  FindFirst $R2 $R3 "$R1\*"
  ${DoWhile} $R3 != ""
    ${If} $R3 != "."
    ${AndIf} $R3 != ".."
    ${AndIf} ${FileExists} "$R1\$R3\MQL5\*.*"
      Push "$R1\$R3"
      Call AddTerminal
    ${EndIf}
    FindNext $R2 $R3
  ${Loop}
  FindClose $R2
FunctionEnd

Function .onInit
  InitPluginsDir
  StrCpy $Ini "$PLUGINSDIR\terminals.ini"
  WriteINIStr $Ini "t" "count" "0"
  Call FindTerminals
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/TERMINAL=" $R1
  ${IfNot} ${Errors}
    ${If} ${FileExists} "$R1\MQL5\*.*"
      Push $R1
      Call AddTerminal
    ${Else}
      WriteINIStr $Ini "t" "refused" $R1
    ${EndIf}
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/PYTHON=" $PythonArg
  ClearErrors
  ${GetOptions} $R0 "/PYTHONZIP=" $PythonZip
FunctionEnd

Function TerminalsPage
  !insertmacro MUI_HEADER_TEXT "MetaTrader 5 terminals" "Choose where the Expert Advisor is installed."
  nsDialogs::Create 1018
  Pop $0
  ReadINIStr $R5 $Ini "t" "count"
  ${If} $R5 == 0
    ${NSD_CreateLabel} 0 0 100% 36u "No MetaTrader 5 data folder was found in %APPDATA%\MetaQuotes\Terminal. \
Start MetaTrader 5 once and run this installer again, or choose a portable terminal's folder below. \
The sidecar is installed either way."
    Pop $0
  ${Else}
    ${NSD_CreateLabel} 0 0 100% 12u "Install the Expert Advisor into these terminals:"
    Pop $0
  ${EndIf}
  StrCpy $DU "u"
  StrCpy $R4 14
  ${ForEach} $R6 1 $R5 + 1
    ${If} $R6 <= 8
      StrCpy $R3 "$R4$DU"
      ReadINIStr $R7 $Ini "label" $R6
      ${NSD_CreateCheckbox} 0 $R3 100% 12u "$R7"
      Pop $R8
      WriteINIStr $Ini "hwnd" $R6 $R8
      ReadINIStr $R7 $Ini "sel" $R6
      ${If} $R7 == "1"
        ${NSD_Check} $R8
      ${EndIf}
      IntOp $R4 $R4 + 13
    ${EndIf}
  ${Next}
  ${If} $R5 > 8
    IntOp $R7 $R5 - 8
    StrCpy $R3 "$R4$DU"
    ${NSD_CreateLabel} 0 $R3 100% 12u "… and $R7 more, all chosen."
    Pop $0
    IntOp $R4 $R4 + 13
  ${EndIf}
  IntOp $R4 $R4 + 4
  StrCpy $R3 "$R4$DU"
  ${NSD_CreateLabel} 0 $R3 100% 12u "Portable terminal (started with /portable): its folder, the one holding MQL5"
  Pop $0
  IntOp $R4 $R4 + 13
  StrCpy $R3 "$R4$DU"
  ${NSD_CreateDirRequest} 0 $R3 78% 12u ""
  Pop $PortableEdit
  ${NSD_CreateBrowseButton} 80% $R3 20% 12u "Browse..."
  Pop $0
  ${NSD_OnClick} $0 BrowsePortable
  nsDialogs::Show
FunctionEnd

Function BrowsePortable
  Pop $0
  nsDialogs::SelectFolderDialog "The portable terminal's folder (it holds terminal64.exe and MQL5)" ""
  Pop $0
  ${If} $0 != "error"
    ${NSD_SetText} $PortableEdit $0
  ${EndIf}
FunctionEnd

Function TerminalsLeave
  ReadINIStr $R5 $Ini "t" "count"
  ${ForEach} $R6 1 $R5 + 1
    ReadINIStr $R8 $Ini "hwnd" $R6
    ${If} $R8 != ""
      ${NSD_GetState} $R8 $R7
      ${If} $R7 == ${BST_CHECKED}
        WriteINIStr $Ini "sel" $R6 "1"
      ${Else}
        WriteINIStr $Ini "sel" $R6 "0"
      ${EndIf}
    ${EndIf}
  ${Next}
  ${NSD_GetText} $PortableEdit $R1
  ${If} $R1 != ""
    ${IfNot} ${FileExists} "$R1\MQL5\*.*"
      MessageBox MB_ICONEXCLAMATION|MB_OK "$R1 has no MQL5 folder. Choose the folder of the portable terminal \
that holds terminal64.exe and MQL5, or leave the field empty."
      Abort
    ${EndIf}
    Push $R1
    Call AddTerminal
  ${EndIf}
FunctionEnd

; --- the Expert Advisor ------------------------------------------------------------------------------

; $R9 = data folder
Function InstallEA
  SetOutPath "$R9\MQL5\Experts"
  File "${STAGE}\mql5\Experts\CSMultiConnector.mq5"
  SetOutPath "$R9\MQL5\Include\CSMultiConnector"
  File "${STAGE}\mql5\Include\CSMultiConnector\*.mqh"
  FileWriteUTF16LE $R0 "$R9$\r$\n"
  !insertmacro Log "EA installed in $R9"
FunctionEnd

Section "Expert Advisor" SecEA
  SetOutPath "$INSTDIR"
  FileOpen $Log "$INSTDIR\install.log" w
  FileWriteUTF16LE /BOM $Log ""
  !insertmacro Log "${APP} ${VERSION}"
  ReadINIStr $R1 $Ini "t" "refused"
  ${If} $R1 != ""
    !insertmacro Log "/TERMINAL=$R1 skipped: that folder has no MQL5 folder"
  ${EndIf}
  ; terminals.txt lists every data folder the EA went into, now and in earlier installs, for the uninstaller
  ${If} ${FileExists} "$INSTDIR\terminals.txt"
    Rename "$INSTDIR\terminals.txt" "$PLUGINSDIR\terminals-before.txt"
  ${EndIf}
  FileOpen $R0 "$INSTDIR\terminals.txt" w
  FileWriteUTF16LE /BOM $R0 ""
  StrCpy $R2 0
  ReadINIStr $R5 $Ini "t" "count"
  ${ForEach} $R6 1 $R5 + 1
    ReadINIStr $R7 $Ini "sel" $R6
    ${If} $R7 == "1"
      ReadINIStr $R9 $Ini "t" $R6
      WriteINIStr $Ini "done" $R9 "1"
      Call InstallEA
      IntOp $R2 $R2 + 1
    ${EndIf}
  ${Next}
  ClearErrors
  FileOpen $R3 "$PLUGINSDIR\terminals-before.txt" r
  ${IfNot} ${Errors}
    ${Do}
      ClearErrors
      FileReadUTF16LE $R3 $R4
      ${If} ${Errors}
        ${Break}
      ${EndIf}
      ${TrimNewLines} $R4 $R4
      ReadINIStr $R7 $Ini "done" $R4
      ${If} $R4 != ""
      ${AndIf} $R7 != "1"
      ${AndIf} ${FileExists} "$R4\MQL5\Experts\CSMultiConnector.mq5"
        FileWriteUTF16LE $R0 "$R4$\r$\n"
        WriteINIStr $Ini "done" $R4 "1"
      ${EndIf}
    ${Loop}
    FileClose $R3
  ${EndIf}
  FileClose $R0
  !insertmacro Log "terminals=$R2"
  ${If} $R2 == 0
    !insertmacro Log "No MetaTrader 5 data folder was chosen or found: the EA was not installed. Start \
MetaTrader 5 once and run the installer again, or pass /TERMINAL=<folder> for a portable terminal."
  ${EndIf}
SectionEnd

; --- the sidecar and its Python ------------------------------------------------------------------------

; $R0 ← python.exe of an installed CPython the bundled wheels fit, or ""
!macro TryPython VER
  ${If} $R0 == ""
    ReadRegStr $R1 HKCU "Software\Python\PythonCore\${VER}\InstallPath" "ExecutablePath"
    ${If} $R1 == ""
      ReadRegStr $R1 HKLM "Software\Python\PythonCore\${VER}\InstallPath" "ExecutablePath"
    ${EndIf}
    ${If} $R1 == ""
      ReadRegStr $R2 HKCU "Software\Python\PythonCore\${VER}\InstallPath" ""
      ${If} $R2 == ""
        ReadRegStr $R2 HKLM "Software\Python\PythonCore\${VER}\InstallPath" ""
      ${EndIf}
      ${If} $R2 != ""
        StrCpy $R1 "$R2\python.exe"
      ${EndIf}
    ${EndIf}
    ${If} $R1 != ""
    ${AndIf} ${FileExists} $R1
      StrCpy $R0 $R1
    ${EndIf}
  ${EndIf}
!macroend

Function FindPython
  StrCpy $R0 ""
  SetRegView 64
  !include "${STAGE}\pythons.nsh"
  SetRegView default
FunctionEnd

; runs a command; $R1 ← exit code, $R2 ← its output; both are logged
!macro Run cmd
  !insertmacro Log `running ${cmd}`
  nsExec::ExecToStack '${cmd}'
  Pop $R1
  Pop $R2
  !insertmacro Log "  exit $R1: $R2"
!macroend

Function SetUpPython
  StrCpy $SidecarError ""
  ${If} $PythonArg != ""
    StrCpy $R0 $PythonArg
  ${Else}
    Call FindPython
  ${EndIf}
  ${If} $R0 != ""
    StrCpy $Runtime "venv"
    !insertmacro Log "Python for the sidecar: $R0 (a virtual environment in $INSTDIR\venv)"
    !insertmacro Run '"$R0" -m venv --clear "$INSTDIR\venv"'
    ${If} $R1 != 0
      StrCpy $SidecarError "$R0 could not create a virtual environment: $R2"
      Return
    ${EndIf}
    !insertmacro Run '"$INSTDIR\venv\Scripts\python.exe" -m pip ${PIP_INSTALL}'
  ${Else}
    StrCpy $Runtime "python"
    !insertmacro Log "Python for the sidecar: CPython ${PY_EMBED_VERSION} embeddable package, SHA-256 ${PY_EMBED_SHA256}"
    File "/oname=$PLUGINSDIR\fetch-python.ps1" "${STAGE}\fetch-python.ps1"
    StrCpy $R3 '-Url "${PY_EMBED_URL}" -Sha256 ${PY_EMBED_SHA256} -Zip "$PLUGINSDIR\python-embed.zip" -Dest "$INSTDIR\python"'
    ${If} $PythonZip != ""
      StrCpy $R3 '$R3 -LocalZip "$PythonZip"'
    ${EndIf}
    !insertmacro Run '"$SYSDIR\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "$PLUGINSDIR\fetch-python.ps1" $R3'
    ${If} $R1 != 0
      StrCpy $SidecarError "CPython ${PY_EMBED_VERSION} could not be fetched from ${PY_EMBED_URL}: $R2"
      Return
    ${EndIf}
    ; the files decide, not the exit code: a PowerShell stand-in (Wine has one) ends with 0 having done nothing
    ${IfNot} ${FileExists} "$INSTDIR\python\python.exe"
      StrCpy $SidecarError "CPython ${PY_EMBED_VERSION} from ${PY_EMBED_URL} was not unpacked (PowerShell said: $R2)"
      Return
    ${EndIf}
    ; the embeddable package ignores site-packages until its ._pth file says `import site`
    FileOpen $R4 "$INSTDIR\python\python${PY_EMBED_TAG}._pth" w
    FileWrite $R4 "python${PY_EMBED_TAG}.zip$\r$\n.$\r$\nLib\site-packages$\r$\nimport site$\r$\n"
    FileClose $R4
    !insertmacro Run '"$INSTDIR\python\python.exe" "$INSTDIR\wheels\${PIP_WHEEL}\pip" ${PIP_INSTALL}'
  ${EndIf}
  ${If} $R1 != 0
    StrCpy $SidecarError "pip could not install the bundled wheels: $R2"
    Return
  ${EndIf}
  !insertmacro Run '"$INSTDIR\$Runtime\Scripts\csmc.exe" version'
  ${StrStr} $R3 $R2 "csmc ${VERSION}"
  ${If} $R3 == ""
    StrCpy $SidecarError "the installed csmc does not start: $R2"
  ${EndIf}
FunctionEnd

; The user's PATH gets $INSTDIR\bin. NSIS strings end at 1024 characters: a longer PATH is left alone
; (App Paths still lets the EA find csmc) rather than cut short.
Function AddToPath
  ClearErrors
  ReadRegStr $R0 HKCU "Environment" "Path"
  ${If} ${Errors}
  ${AndIf} $R0 == ""
    WriteRegExpandStr HKCU "Environment" "Path" "$INSTDIR\bin"
  ${Else}
    StrLen $R1 $R0
    ${StrStr} $R2 ";$R0;" ";$INSTDIR\bin;"
    ${If} $R2 != ""
      Return
    ${ElseIf} $R1 > 900
      !insertmacro Log "Your PATH is too long to change safely here: add $INSTDIR\bin to it by hand to type csmc in a console."
      Return
    ${EndIf}
    WriteRegExpandStr HKCU "Environment" "Path" "$R0;$INSTDIR\bin"
  ${EndIf}
  SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=2000
  !insertmacro Log "PATH: $INSTDIR\bin added for this user"
FunctionEnd

Section "Sidecar" SecSidecar
  SetOutPath "$INSTDIR\wheels"
  File "${STAGE}\wheels\*.whl"
  Call SetUpPython
  ; `csmc` for consoles (on PATH) and for the EA: its default Sidecar command is "csmc", which ShellExecute
  ; finds through App Paths at once, without a restart of MetaTrader 5 for the new PATH
  CreateDirectory "$INSTDIR\bin"
  FileOpen $R4 "$INSTDIR\bin\csmc.cmd" w
  FileWrite $R4 "@echo off$\r$\nrem CSMultiConnector sidecar launcher, written by the installer$\r$\n$\"%~dp0..\$Runtime\Scripts\csmc.exe$\" %*$\r$\n"
  FileClose $R4
  WriteRegStr HKCU "${APP_PATHS_KEY}" "" "$INSTDIR\$Runtime\Scripts\csmc.exe"
  WriteRegStr HKCU "${APP_PATHS_KEY}" "Path" "$INSTDIR\$Runtime\Scripts"
  Call AddToPath
  ${If} $SidecarError == ""
    !insertmacro Log "sidecar=ok runtime=$Runtime"
  ${Else}
    !insertmacro Log "sidecar=failed: $SidecarError"
    IfSilent +2
      MessageBox MB_ICONEXCLAMATION|MB_OK "The sidecar could not be set up: $SidecarError$\r$\n$\r$\nThe EA is \
installed. Run the installer again once this is solved; install.log in $INSTDIR has the details."
    SetErrorLevel 2
  ${EndIf}
SectionEnd

Section "Profile" SecProfile
  ; the sidecar's configuration directory (platformdirs: %LOCALAPPDATA%\CSMultiConnector), kept on uninstall
  StrCpy $R0 "$LOCALAPPDATA\${APP}\profiles\default.toml"
  ${If} ${FileExists} $R0
    !insertmacro Log "profile kept: $R0"
  ${Else}
    SetOutPath "$LOCALAPPDATA\${APP}\profiles"
    File "/oname=default.toml" "${STAGE}\profile-template.toml"
    ; %LOCALAPPDATA% is the user's own already; the file's ACL is narrowed to the user anyway
    nsExec::ExecToStack '"$SYSDIR\icacls.exe" "$R0" /inheritance:r /grant:r "%USERNAME%:F"'
    Pop $R1
    Pop $R2
    !insertmacro Log "profile created: $R0 (icacls exit $R1)"
  ${EndIf}
SectionEnd

Section "-Uninstaller"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKCU "Software\${APP}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "${APP} contributors"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" "$\"$INSTDIR\uninstall.exe$\""
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" "$\"$INSTDIR\uninstall.exe$\" /S"
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
  !insertmacro Log "done"
  FileClose $Log
  StrCpy $Log ""
SectionEnd

; --- uninstall -------------------------------------------------------------------------------------------

Function un.onInit
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PURGE" $R1
  ${IfNot} ${Errors}
    StrCpy $Purge "1"
  ${Else}
    StrCpy $Purge "0"
  ${EndIf}
FunctionEnd

Function un.KeepPage
  !insertmacro MUI_HEADER_TEXT "Your settings" "Profiles hold your venue keys; the journal and logs your history."
  nsDialogs::Create 1018
  Pop $0
  ${NSD_CreateCheckbox} 0 0 100% 24u "Also delete the profiles, the journal and the logs in %LOCALAPPDATA%\${APP}"
  Pop $PurgeBox
  nsDialogs::Show
FunctionEnd

Function un.KeepLeave
  ${NSD_GetState} $PurgeBox $R0
  ${If} $R0 == ${BST_CHECKED}
    StrCpy $Purge "1"
  ${EndIf}
FunctionEnd

Section "Uninstall"
  ClearErrors
  FileOpen $R0 "$INSTDIR\terminals.txt" r
  ${IfNot} ${Errors}
    ${Do}
      ClearErrors
      FileReadUTF16LE $R0 $R1
      ${If} ${Errors}
        ${Break}
      ${EndIf}
      ${TrimNewLines} $R1 $R1
      ${If} $R1 != ""
        Delete "$R1\MQL5\Experts\CSMultiConnector.mq5"
        Delete "$R1\MQL5\Experts\CSMultiConnector.ex5"
        Delete "$R1\MQL5\Include\CSMultiConnector\*.mqh"
        RMDir "$R1\MQL5\Include\CSMultiConnector"
        DetailPrint "EA removed from $R1"
      ${EndIf}
    ${Loop}
    FileClose $R0
  ${EndIf}
  RMDir /r "$INSTDIR\venv"
  RMDir /r "$INSTDIR\python"
  RMDir /r "$INSTDIR\wheels"
  Delete "$INSTDIR\bin\csmc.cmd"
  RMDir "$INSTDIR\bin"
  Delete "$INSTDIR\terminals.txt"
  Delete "$INSTDIR\install.log"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  ReadRegStr $R0 HKCU "${APP_PATHS_KEY}" ""
  ${UnStrRep} $R1 $R0 "$INSTDIR\" ""
  ${If} $R1 != $R0
    DeleteRegKey HKCU "${APP_PATHS_KEY}"
  ${EndIf}
  ClearErrors
  ReadRegStr $R0 HKCU "Environment" "Path"
  ${IfNot} ${Errors}
    ${UnStrRep} $R1 ";$R0;" ";$INSTDIR\bin;" ";"
    ${If} $R1 != ";$R0;"
      StrCpy $R1 $R1 "" 1
      StrCpy $R1 $R1 -1
      ${If} $R1 == ""
        DeleteRegValue HKCU "Environment" "Path"
      ${Else}
        WriteRegExpandStr HKCU "Environment" "Path" $R1
      ${EndIf}
      SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=2000
    ${EndIf}
  ${EndIf}
  DeleteRegKey HKCU "${UNINST_KEY}"
  DeleteRegKey HKCU "Software\${APP}"
  ${If} $Purge == "1"
    RMDir /r "$LOCALAPPDATA\${APP}"
    DetailPrint "profiles, journal and logs removed"
  ${Else}
    DetailPrint "kept: profiles, journal and logs in $LOCALAPPDATA\${APP}"
  ${EndIf}
SectionEnd
