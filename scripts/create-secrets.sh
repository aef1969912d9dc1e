#!/usr/bin/env bash
# Creates the Secret lukseun-secrets the manifests read, once; an existing one is left alone
# (a new JWT key would log every player out).
#   scripts/create-secrets.sh                       random JWT key, database in manifests/deps
#   MYSQL_URL=mysql://user:pw@host:3306/lukseun scripts/create-secrets.sh   a database of your own
# Keys: jwt-secret (LUKSEUN_JWT_SECRET of auth and worker), issuer-key (LUKSEUN_ISSUER_KEY of
# auth: operators present it to mint admin tokens, docs/auth.md), mysql-url (LUKSEUN_MYSQL_URL
# of the worker), mariadb-password (the MariaDB of manifests/deps).
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

kubectl get namespace "$NAMESPACE" >/dev/null 2>&1 || kubectl create namespace "$NAMESPACE"
kubectl -n "$NAMESPACE" create secret generic "$NAME" \
  --from-literal=jwt-secret="$jwt" \
  --from-literal=issuer-key="$issuer_key" \
  --from-literal=mysql-url="$mysql_url" \
  --from-literal=mariadb-password="$db_password"
