#!/bin/bash
# Print the Debian mirror this machine's apt uses (the first non-security URIs: of a deb822
# .sources file, else the first deb line of sources.list), else deb.debian.org.
m=""
for f in /etc/apt/sources.list.d/*.sources; do
	[ -r "$f" ] || continue
	m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$f")
	[ -n "$m" ] && break
done
if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
	m=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
fi
echo "${m:-http://deb.debian.org/debian}"
