#!/bin/sh
# Installs Postfix's SMTP test tools (smtp-sink, smtp-source) for `make bench`, if missing.
# Only the two binaries are used; the Postfix daemon is left unconfigured and never started.
set -eu
if [ -x /usr/sbin/smtp-sink ] && [ -x /usr/sbin/smtp-source ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "bench: smtp-sink/smtp-source missing and not root; the smtp-sink figures will be skipped" >&2
    exit 0
fi
echo "bench: installing postfix for smtp-sink / smtp-source (daemon not configured, not started)" >&2
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101 = "do not start services" for this install only (kept if it already exists)
added_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    added_policy=1
fi
apt-get install -y -q --no-install-recommends postfix >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends postfix >/dev/null; } \
    || echo "bench: could not install postfix; the smtp-sink figures will be skipped" >&2
if [ -n "$added_policy" ]; then
    rm -f /usr/sbin/policy-rc.d
fi
exit 0
