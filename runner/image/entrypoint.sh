#!/bin/sh
# The runner image's entry point. With arguments, runs `tether-runner ARGS` (doctor, status,
# register …). Without: registers once when TETHER_REGISTRATION_TOKEN is set and the home
# ($TETHER_RUNNER_HOME) holds no credential yet (the token is single-use; a restarted
# container skips this), then runs `tether-runner start` as the container's main process.
set -eu
if [ "$#" -gt 0 ]; then
  exec tether-runner "$@"
fi
if [ -n "${TETHER_REGISTRATION_TOKEN:-}" ] && ! grep -qs '"credential"' "$TETHER_RUNNER_HOME/config.json"; then
  tether-runner register --token "$TETHER_REGISTRATION_TOKEN"
fi
exec tether-runner start
