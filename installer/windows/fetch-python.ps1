# Fetches CPython's embeddable package for the installer, checks it against the SHA-256 pinned in the
# installer, and unpacks it. Nothing is unpacked when the hash differs. Exit codes: 0 done, 2 could not
# download or unpack, 3 the file is not the pinned one. The reason is printed on one line.
param(
    [Parameter(Mandatory = $true)][string]$Url,
    [Parameter(Mandatory = $true)][string]$Sha256,
    [Parameter(Mandatory = $true)][string]$Zip,
    [Parameter(Mandatory = $true)][string]$Dest,
    [string]$LocalZip = ""
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'   # the progress bar slows Invoke-WebRequest down many times
try {
    if ($LocalZip) {
        Copy-Item -LiteralPath $LocalZip -Destination $Zip -Force
    } else {
        [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
        Invoke-WebRequest -Uri $Url -OutFile $Zip -UseBasicParsing
    }
    $actual = (Get-FileHash -LiteralPath $Zip -Algorithm SHA256).Hash.ToLowerInvariant()
    if ($actual -ne $Sha256.ToLowerInvariant()) {
        Remove-Item -LiteralPath $Zip -Force
        Write-Output "the downloaded file's SHA-256 is $actual, not the pinned $Sha256"
        exit 3
    }
    if (Test-Path -LiteralPath $Dest) { Remove-Item -LiteralPath $Dest -Recurse -Force }
    Expand-Archive -LiteralPath $Zip -DestinationPath $Dest -Force
    Remove-Item -LiteralPath $Zip -Force
    exit 0
} catch {
    Write-Output ($_.Exception.Message -replace "`r?`n", " ")
    exit 2
}
