#!/usr/bin/env bash
# Prints the Debian mirror the base image is built from: DEBIAN_MIRROR when set, else the URI
# of the host's main Debian archive as its apt sources name it. The main archive is a `deb`
# source whose suite is a release (`bookworm`, `stable`: no `-security`, `-updates`, `/updates`)
# with the `main` component and no key of its own (a third-party repository names its key with
# Signed-By; Debian's sources name none or debian-archive-keyring). deb822 files
# (sources.list.d/*.sources, `URIs:`) come first, then one-line files (sources.list, *.list).
# Exits 1 with a message on stderr when nothing names one.
# APT_ETC (default /etc/apt) is where the sources are read.
set -euo pipefail
etc="${APT_ETC:-/etc/apt}"

if [ -n "${DEBIAN_MIRROR:-}" ]; then
  printf '%s\n' "$DEBIAN_MIRROR"
  exit 0
fi

from_deb822() {
  awk '
    BEGIN { RS = "" }
    {
      types = ""; uris = ""; suites = ""; comps = ""; signed = ""; enabled = "yes"
      n = split($0, lines, "\n")
      for (i = 1; i <= n; i++) {
        line = lines[i]
        if (line ~ /^[ \t]*#/ || line !~ /^[A-Za-z-]+:/) continue
        key = tolower(substr(line, 1, index(line, ":") - 1))
        value = substr(line, index(line, ":") + 1)
        if (key == "types") types = value
        else if (key == "uris") uris = value
        else if (key == "suites") suites = value
        else if (key == "components") comps = value
        else if (key == "signed-by") signed = value
        else if (key == "enabled") enabled = value
      }
      if (enabled ~ /no/ || (" " types " ") !~ /[ \t]deb[ \t]/) next
      if ((" " comps " ") !~ /[ \t]main[ \t]/) next
      if (signed != "" && signed !~ /debian-archive-keyring/) next
      ns = split(suites, s, /[ \t]+/); release = 0
      for (j = 1; j <= ns; j++) if (s[j] ~ /^[a-z]+$/) release = 1
      if (!release) next
      split(uris, u, /[ \t]+/)
      for (j = 1; j in u; j++) if (u[j] != "") { print u[j]; exit }
    }
  ' "$@"
}

from_one_line() {
  awk '
    $1 == "deb" {
      f = 2; options = ""
      if ($f ~ /^\[/) { while (f <= NF && $f !~ /\]$/) options = options " " $(f++); options = options " " $(f++) }
      uri = $f; suite = $(f + 1); main = 0
      for (k = f + 2; k <= NF && $k !~ /^#/; k++) if ($k == "main") main = 1
      if (!main || suite !~ /^[a-z]+$/) next
      if (options ~ /signed-by=/ && options !~ /debian-archive-keyring/) next
      print uri; exit
    }
  ' "$@"
}

shopt -s nullglob
deb822=("$etc"/sources.list.d/*.sources)
one_line=()
[ -r "$etc/sources.list" ] && one_line+=("$etc/sources.list")
one_line+=("$etc"/sources.list.d/*.list)

mirror=""
[ "${#deb822[@]}" -gt 0 ] && mirror="$(from_deb822 "${deb822[@]}")"
[ -z "$mirror" ] && [ "${#one_line[@]}" -gt 0 ] && mirror="$(from_one_line "${one_line[@]}")"
if [ -z "$mirror" ]; then
  echo "no Debian mirror: set DEBIAN_MIRROR (e.g. DEBIAN_MIRROR=http://<mirror>/debian), or give this host an apt source for Debian's main archive in $etc/sources.list.d/*.sources (URIs:) or $etc/sources.list (deb lines)" >&2
  exit 1
fi
printf '%s\n' "$mirror"
