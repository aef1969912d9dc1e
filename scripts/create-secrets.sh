#!/usr/bin/env bash
# Creates the Secret lukseun-secrets the manifests read, once; an existing one is left alone
# (a new JWT key would log every player out).
#   scripts/create-secrets.sh                       random keys and passwords, servers in manifests/deps
#   MYSQL_URL=mysql://user:pw@host:3306/lukseun scripts/create-secrets.sh   a database of your own
#   REDIS_ADDR=host:6379 NATS_ADDR=host:4222 scripts/create-secrets.sh      Redis and NATS of your own
#     (give them the users of `lukseun-server-config redis|nats` with these passwords)
#   REDIS_SCHEME=redis+cluster REDIS_ADDR=n1:6379,n2:6379,n3:6379 scripts/create-secrets.sh
#     a Redis Cluster, named by its seed nodes (docs/redis.md)
# Keys: jwt-secret (LUKSEUN_JWT_SECRET of auth and worker), issuer-key (LUKSEUN_ISSUER_KEY of
# auth: operators present it to mint admin tokens, docs/auth.md), mysql-url (LUKSEUN_MYSQL_URL
# of the worker), mariadb-password (the MariaDB of manifests/deps), link-secret
# (LUKSEUN_LINK_SECRET of gate and worker: the worker port's HMAC challenge),
# redis-url-<service> and nats-url-<service> (each service's own user, shared/src/grants.rs),
# redis-password-<service|default> and nats-password-<service> (the users of the Redis and
# NATS in manifests/deps).
set -euo pipefail
NAMESPACE=${NAMESPACE:-lukseun}
NAME=lukseun-secrets

if kubectl -n "$NAMESPACE" get secret "$NAME" >/dev/null 2>&1; then
  echo "secret $NAMESPACE/$NAME exists; delete it first to replace it" >&2
  exit 0
fi
random() { head -c 48 /dev/urandom | base64 | tr -d '\n/+='; }
jwt=$(random)
issuer_key=$(random)
db_password=$(random)
mysql_url=${MYSQL_URL:-mysql://lukseun:$db_password@mariadb:3306/lukseun}
redis_addr=${REDIS_ADDR:-redis:6379}
redis_scheme=${REDIS_SCHEME:-redis}
nats_addr=${NATS_ADDR:-nats:4222}

# One Redis user per service and one NATS user per service that speaks NATS (the grants).
link_secret=$(random)
redis_default=$(random)
redis_gate=$(random) redis_worker=$(random) redis_edge=$(random) redis_auth=$(random)
nats_gate=$(random) nats_worker=$(random) nats_edge=$(random)

kubectl get namespace "$NAMESPACE" >/dev/null 2>&1 || kubectl create namespace "$NAMESPACE"
kubectl -n "$NAMESPACE" create secret generic "$NAME" \
  --from-literal=jwt-secret="$jwt" \
  --from-literal=issuer-key="$issuer_key" \
  --from-literal=mysql-url="$mysql_url" \
  --from-literal=mariadb-password="$db_password" \
  --from-literal=link-secret="$link_secret" \
  --from-literal=redis-password-default="$redis_default" \
  --from-literal=redis-password-gate="$redis_gate" \
  --from-literal=redis-password-worker="$redis_worker" \
  --from-literal=redis-password-edge="$redis_edge" \
  --from-literal=redis-password-auth="$redis_auth" \
  --from-literal=redis-url-gate="$redis_scheme://gate:$redis_gate@$redis_addr/" \
  --from-literal=redis-url-worker="$redis_scheme://worker:$redis_worker@$redis_addr/" \
  --from-literal=redis-url-edge="$redis_scheme://edge:$redis_edge@$redis_addr/" \
  --from-literal=redis-url-auth="$redis_scheme://auth:$redis_auth@$redis_addr/" \
  --from-literal=nats-password-gate="$nats_gate" \
  --from-literal=nats-password-worker="$nats_worker" \
  --from-literal=nats-password-edge="$nats_edge" \
  --from-literal=nats-url-gate="nats://gate:$nats_gate@$nats_addr" \
  --from-literal=nats-url-worker="nats://worker:$nats_worker@$nats_addr" \
  --from-literal=nats-url-edge="nats://edge:$nats_edge@$nats_addr"
