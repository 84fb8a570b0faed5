#!/bin/sh
# `tether-runner` inside the runner image: the bundle, e.g. `docker exec tether-runner tether-runner status`.
exec node /opt/tether/dist/runner/tether-runner.mjs "$@"
