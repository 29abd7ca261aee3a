#!/bin/bash
# codeyard node bootstrap (EC2 user data, Ubuntu 24.04). The CDK launch template prepends:
#   CODEYARD_FLEET, CODEYARD_ORCHESTRATOR_URL, CODEYARD_JOIN_SECRET_ARN, CODEYARD_SOFTWARE_URL,
#   CODEYARD_NODE_JS_VERSION, CODEYARD_AGENT_PORT, CODEYARD_PROXY_PORT, AWS_REGION
# It installs Docker and Node.js, installs the codeyard release, builds the workspace image
# locally (images/build.sh), and starts the node agent and node proxy as systemd services.
# The agent reports ready only once the workspace image is present and the proxy answers, so
# a node that is still booting takes no codespaces.
set -euo pipefail
exec > >(tee -a /var/log/codeyard-bootstrap.log) 2>&1
echo "codeyard bootstrap start $(date -u +%FT%TZ)"

install_root=/opt/codeyard
data_dir=/var/lib/codeyard
config_dir=/etc/codeyard
imds=http://169.254.169.254

# --- instance identity (IMDSv2 only; the launch template refuses IMDSv1) --------------------
imds_token=$(curl -sS -X PUT "$imds/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
imds_get() { curl -sS -H "X-aws-ec2-metadata-token: $imds_token" "$imds/latest/meta-data/$1"; }
instance_id=$(imds_get instance-id)
private_ip=$(imds_get local-ipv4)
public_host=$(imds_get public-hostname || true)
[ -n "$public_host" ] || public_host=$(imds_get public-ipv4)

# --- packages ---------------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q docker.io debootstrap curl unzip jq git ca-certificates xz-utils
systemctl enable --now docker

if ! command -v aws >/dev/null; then
  curl -sSfo /tmp/awscli.zip https://awscli.amazonaws.com/awscli-exe-linux-x86_64.zip
  unzip -q /tmp/awscli.zip -d /tmp && /tmp/aws/install && rm -rf /tmp/aws /tmp/awscli.zip
fi

node_dir="/opt/node-v${CODEYARD_NODE_JS_VERSION}"
if [ ! -x "$node_dir/bin/node" ]; then
  curl -sSfo /tmp/node.tar.xz "https://nodejs.org/dist/v${CODEYARD_NODE_JS_VERSION}/node-v${CODEYARD_NODE_JS_VERSION}-linux-x64.tar.xz"
  mkdir -p "$node_dir" && tar -xJf /tmp/node.tar.xz -C "$node_dir" --strip-components=1 && rm /tmp/node.tar.xz
fi
ln -sf "$node_dir/bin/node" /usr/local/bin/node
ln -sf "$node_dir/bin/npm" /usr/local/bin/npm

# --- codeyard software ------------------------------------------------------------------------
id codeyard >/dev/null 2>&1 || useradd --system --create-home --shell /usr/sbin/nologin codeyard
usermod -aG docker codeyard
mkdir -p "$install_root" "$data_dir" "$config_dir"
case "$CODEYARD_SOFTWARE_URL" in
  s3://*) aws s3 cp --only-show-errors "$CODEYARD_SOFTWARE_URL" /tmp/codeyard.tar.gz ;;
  *) curl -sSfo /tmp/codeyard.tar.gz "$CODEYARD_SOFTWARE_URL" ;;
esac
tar -xzf /tmp/codeyard.tar.gz -C "$install_root" --strip-components=1 && rm /tmp/codeyard.tar.gz
(cd "$install_root" && npm ci --omit=dev --no-audit --no-fund)

# --- workspace image, built on the node from package sources ------------------------------------
CODEYARD_CACHE_DIR=/var/cache/codeyard "$install_root/images/build.sh" workspace

# --- secrets and config -----------------------------------------------------------------------
umask 077
aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id "$CODEYARD_JOIN_SECRET_ARN" \
  --query SecretString --output text >"$config_dir/join-secret"
chown codeyard: "$config_dir/join-secret"
chown -R codeyard: "$data_dir"

cat >"$config_dir/node.env" <<EOF
CODEYARD_NODE_NAME=$instance_id
CODEYARD_FLEET=$CODEYARD_FLEET
CODEYARD_ORCHESTRATOR_URL=$CODEYARD_ORCHESTRATOR_URL
CODEYARD_JOIN_SECRET_FILE=$config_dir/join-secret
CODEYARD_NODE_DATA_DIR=$data_dir
CODEYARD_DATA_DIR=$data_dir
CODEYARD_RUNTIME=docker
CODEYARD_AGENT_HOST=0.0.0.0
CODEYARD_AGENT_PORT=$CODEYARD_AGENT_PORT
CODEYARD_AGENT_URL=http://$private_ip:$CODEYARD_AGENT_PORT
CODEYARD_PROXY_HOST=0.0.0.0
CODEYARD_PROXY_PORT=$CODEYARD_PROXY_PORT
CODEYARD_PROXY_URL=http://$public_host:$CODEYARD_PROXY_PORT
CODEYARD_PROXY_HEALTH_URL=http://127.0.0.1:$CODEYARD_PROXY_PORT/healthz
CODEYARD_PROXY_ROUTING_MODE=path
EOF
chmod 0640 "$config_dir/node.env" && chgrp codeyard "$config_dir/node.env"

# --- services ---------------------------------------------------------------------------------
for role in agent proxy; do
  cat >"/etc/systemd/system/codeyard-$role.service" <<EOF
[Unit]
Description=codeyard node $role
After=network-online.target docker.service
Wants=network-online.target

[Service]
User=codeyard
EnvironmentFile=$config_dir/node.env
WorkingDirectory=$install_root
ExecStart=/usr/local/bin/node --import tsx src/node-$role/main.ts
Restart=always
RestartSec=2
# Containers outlive the agent (KV is rebuilt from their labels on restart).
KillMode=process
TimeoutStopSec=30
NoNewPrivileges=true

[Install]
WantedBy=multi-user.target
EOF
done
systemctl daemon-reload
systemctl enable --now codeyard-agent.service codeyard-proxy.service
echo "codeyard bootstrap done $(date -u +%FT%TZ)"
