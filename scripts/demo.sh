#!/usr/bin/env bash
# The seed tutorial end to end on a local AWS: an administrator provisions
# everything, adds alice and bob, each signs in and uploads into their own
# folder, and alice is refused when she writes into bob's.
set -euo pipefail

PYTHON=${PYTHON:-python3}
cd "$(dirname "$0")/.."

DEMO=demo
PASSWORD='Demo-passw0rd!'
rm -rf "$DEMO"
mkdir -p "$DEMO"
export XDG_CACHE_HOME="$PWD/$DEMO/cache"
# Notes go to stderr; unbuffered output keeps them in story order when piped.
export PYTHONUNBUFFERED=1

step() { printf '\n==> %s\n' "$*"; }

step "Start local_aws (moto with IAM enforced) on a free port"
# Its log goes to a file: an unread pipe would fill and stall the server.
"$PYTHON" local_aws.py --port 0 >"$DEMO/local_aws.out" 2>"$DEMO/local_aws.log" &
LOCAL_AWS_PID=$!
trap 'kill "$LOCAL_AWS_PID" 2>/dev/null || true; wait "$LOCAL_AWS_PID" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
    grep -q '}' "$DEMO/local_aws.out" 2>/dev/null && break
    kill -0 "$LOCAL_AWS_PID" 2>/dev/null || { cat "$DEMO/local_aws.log" >&2; exit 1; }
    sleep 0.1
done
read -r ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY < <("$PYTHON" -c '
import json, sys
info = json.loads(sys.stdin.readline())
print(info["endpoint_url"], info["aws_access_key_id"], info["aws_secret_access_key"])' <"$DEMO/local_aws.out")
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1
echo "local_aws is at $ENDPOINT; the administrator's keys are exported"

admin() { "$PYTHON" cog_auth_s3.py --endpoint-url "$ENDPOINT" "$@" 2>&1; }
# Users hold no AWS keys: they sign in to Cognito and get temporary credentials.
as_user() {
    local user=$1; shift
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY COG_AUTH_S3_USERNAME="$user" \
        COG_AUTH_S3_PASSWORD="$PASSWORD" COG_AUTH_S3_UPLOAD_FILE="$DEMO/hello-$user.txt" \
        "$PYTHON" cog_auth_s3.py --config "$DEMO/config.ini" --profile "$user" "$@" 2>&1
}

step "Administrator: setup creates bucket, user pool, app client, identity pool, role and mapping; writes [alice]"
admin setup --name demo --write-config "$DEMO/config.ini" --profile alice

step "Administrator: setup again for [bob]: everything exists, nothing changes"
admin setup --name demo --write-config "$DEMO/config.ini" --profile bob

step "The config file both users share the pools through"
cat "$DEMO/config.ini"

read -r BUCKET IDENTITY_POOL < <("$PYTHON" -c '
import configparser, sys
config = configparser.ConfigParser()
config.read(sys.argv[1])
print(config["alice"]["bucket"], config["alice"]["identity_pool_id"])' "$DEMO/config.ini")
step "Administrator: the role policy setup attached (each user: own folder only)"
admin policy --bucket "$BUCKET" --identity-pool-id "$IDENTITY_POOL"

step "Administrator: add-user alice and bob (password from COG_AUTH_S3_PASSWORD)"
COG_AUTH_S3_PASSWORD="$PASSWORD" admin --config "$DEMO/config.ini" --profile alice add-user alice
COG_AUTH_S3_PASSWORD="$PASSWORD" admin --config "$DEMO/config.ini" --profile bob add-user bob

echo "hello from alice" >"$DEMO/hello-alice.txt"
echo "hello from bob" >"$DEMO/hello-bob.txt"

step "alice: sign in (SRP), get her identity id and temporary credentials, upload into her folder"
as_user alice run

step "bob: the same; his identity id is what alice will try next"
as_user bob run
# creds reuses bob's cached session: no sign-in, no request.
BOB_ID=$(COG_AUTH_S3_USERNAME=bob "$PYTHON" cog_auth_s3.py --config "$DEMO/config.ini" --profile bob --quiet \
    creds --format json | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["IdentityId"])')

step "alice: probe bob's folder ($BOB_ID/) and the bucket root: every listing, read (of his hello-bob.txt), write and delete that harms nothing must be refused"
as_user alice run --try-identity "$BOB_ID" --try-key hello-bob.txt
