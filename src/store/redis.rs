//! The Redis store (standalone with the connection manager, or Cluster). One
//! pipeline per request batch (on a cluster, its commands concurrently, since
//! their keys live in different slots); the rate limit is a Lua GCRA step using
//! the server's clock so replicas agree. Revocation keys are also recorded in an
//! index set, so listing them needs no SCAN (which a cluster cannot route).
//! Connects in the background: the gateway starts (not ready) while Redis is
//! down and recovers by itself.

use super::{jti_key, sid_key, sub_key, used_key, Batch, Outcome, StoreUnavailable};
use arc_swap::ArcSwapOption;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use std::sync::Arc;
use std::time::Duration;

/// GCRA step; KEYS[1] = tat key, ARGV = interval ms, burst. Returns {allowed, wait ms}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * tonumber(ARGV[2])
if allow_at > now then return {0, allow_at - now} end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, new_tat - now))
return {1, 0}
";

/// Compare-and-swap; KEYS[1], ARGV = expected, new, ttl ms. Returns 1 when swapped.
const CAS: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

pub struct RedisStore {
    conn: Arc<ArcSwapOption<Conn>>,
    /// Flips to true once the first connection is up (tests and start-up wait on it).
    connected: tokio::sync::watch::Receiver<bool>,
    prefix: String,
    timeout: Duration,
}

impl RedisStore {
    /// Starts connecting in the background; operations fail fast until connected.
    pub fn start(
        url: &str,
        ca: Option<&std::path::Path>,
        prefix: &str,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Result<RedisStore, String> {
        let conn: Arc<ArcSwapOption<Conn>> = Arc::new(ArcSwapOption::empty());
        let slot = Arc::downgrade(&conn);
        let root_cert = match ca {
            Some(p) => Some(
                std::fs::read(p)
                    .map_err(|e| format!("store.ca: cannot read {}: {e}", p.display()))?,
            ),
            None => None,
        };
        let connector = Connector::new(url, root_cert, connect_timeout, command_timeout)?;
        let (connected_tx, connected) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut failures: u32 = 0;
            loop {
                let Some(target) = slot.upgrade() else { return };
                match connector.connect().await {
                    Ok(c) => {
                        tracing::info!(store = "redis", "connected to the state store");
                        target.store(Some(Arc::new(c)));
                        connected_tx.send_replace(true);
                        return;
                    }
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        if failures == 1 || failures.is_power_of_two() {
                            tracing::warn!(store = "redis", error = %e, attempts = failures, "cannot connect to the state store; retrying");
                        }
                    }
                }
                drop(target);
                tokio::time::sleep(Duration::from_millis(200 * u64::from(failures.min(10)))).await;
            }
        });
        Ok(RedisStore {
            conn,
            connected,
            prefix: prefix.to_string(),
            timeout: command_timeout,
        })
    }

    /// Resolves once the first connection is established (never, while Redis stays down).
    pub async fn connected(&self) {
        let mut rx = self.connected.clone();
        // An Err means the connector task ended without connecting (the store was dropped).
        let _ = rx.wait_for(|up| *up).await;
    }

    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.prefix)
    }

    async fn exec<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, StoreUnavailable> {
        let Some(conn) = self.conn.load_full() else {
            return Err(StoreUnavailable);
        };
        let fut = async {
            match &*conn {
                Conn::Single(c) => pipe.query_async::<T>(&mut c.clone()).await,
                // A cluster refuses pipelines whose keys live in different slots:
                // send the commands concurrently (one round trip per node, in
                // parallel) and read the replies as the pipeline's would be.
                // Multi-command pipelines therefore never use ignore().
                Conn::Cluster(c) => {
                    let replies = futures_util::future::try_join_all(pipe.cmd_iter().map(|cmd| {
                        let mut c = c.clone();
                        async move { cmd.query_async::<redis::Value>(&mut c).await }
                    }))
                    .await?;
                    redis::from_redis_value::<T>(redis::Value::Array(replies)).map_err(Into::into)
                }
            }
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::debug!(store = "redis", error = %e, "state store command failed");
                Err(StoreUnavailable)
            }
            Err(_) => Err(StoreUnavailable),
        }
    }

    pub async fn run(&self, b: &Batch<'_>) -> Result<Outcome, StoreUnavailable> {
        let mut pipe = redis::pipe();
        if let Some((jti, sub)) = b.revocation {
            pipe.cmd("GET")
                .arg(self.key(&jti_key(jti.unwrap_or(""))))
                .cmd("GET")
                .arg(self.key(&sub_key(sub)));
        }
        if let Some(sid) = b.session {
            pipe.cmd("GET").arg(self.key(&sid_key(sid)));
        }
        for (key, ttl) in b.single_use.iter().chain(b.nonce.iter()) {
            let ms = millis(*ttl);
            pipe.cmd("SET")
                .arg(self.key(&used_key(key)))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ms);
        }
        if let Some((key, rate)) = b.rate {
            let interval = u64::try_from(rate.interval.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            pipe.cmd("EVAL")
                .arg(GCRA)
                .arg(1)
                .arg(self.key(&format!("rl:{key}")))
                .arg(interval)
                .arg(rate.burst);
        }
        let replies: Vec<redis::Value> = self.exec(&pipe).await?;
        let mut replies: Vec<redis::Value> = replies.into_iter().rev().collect();
        let mut next = || replies.pop().unwrap_or(redis::Value::Nil);
        let mut out = Outcome {
            first_use: true,
            nonce_fresh: true,
            ..Outcome::default()
        };
        if let Some((jti, _)) = b.revocation {
            let jti_hit = !matches!(next(), redis::Value::Nil);
            out.jti_revoked = jti.is_some() && jti_hit;
            out.subject_not_before = redis::from_redis_value::<Option<u64>>(next())
                .ok()
                .flatten();
        }
        if b.session.is_some() {
            out.session_revoked = !matches!(next(), redis::Value::Nil);
        }
        if b.single_use.is_some() {
            out.first_use = !matches!(next(), redis::Value::Nil);
        }
        if b.nonce.is_some() {
            out.nonce_fresh = !matches!(next(), redis::Value::Nil);
        }
        if b.rate.is_some() {
            let (allowed, wait): (i64, i64) =
                redis::from_redis_value(next()).map_err(|_| StoreUnavailable)?;
            if allowed == 0 {
                out.retry_after = Some(Duration::from_millis(u64::try_from(wait).unwrap_or(0)));
            }
        }
        Ok(out)
    }

    /// The set that indexes revocation keys, so listing them reads the index
    /// (works on a cluster, costs O(revocations)) instead of SCANning the keyspace.
    fn index_key(&self) -> String {
        self.key("index:rev")
    }

    /// SET with expiry; `indexed`: the key is also recorded in the index.
    pub async fn write(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
        indexed: bool,
    ) -> Result<(), StoreUnavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl));
        if indexed {
            pipe.cmd("SADD").arg(self.index_key()).arg(key);
        }
        // The reply of each command, whatever their number (a cluster sends them apart).
        self.exec::<Vec<redis::Value>>(&pipe).await.map(|_| ())
    }

    pub async fn compare_and_swap(
        &self,
        key: &str,
        old: &str,
        new: &str,
        ttl: Duration,
    ) -> Result<bool, StoreUnavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("EVAL")
            .arg(CAS)
            .arg(1)
            .arg(self.key(key))
            .arg(old)
            .arg(new)
            .arg(millis(ttl));
        let (swapped,): (i64,) = self.exec(&pipe).await?;
        Ok(swapped == 1)
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, StoreUnavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(self.key(key));
        let (value,): (Option<String>,) = self.exec(&pipe).await?;
        Ok(value)
    }

    pub async fn delete(&self, key: &str) -> Result<bool, StoreUnavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL")
            .arg(self.key(key))
            .cmd("SREM")
            .arg(self.index_key())
            .arg(key);
        let (n, _): (i64, redis::Value) = self.exec(&pipe).await?;
        Ok(n > 0)
    }

    /// Indexed keys under `prefix` with their values; index entries whose key
    /// has expired are pruned on the way (at most 100,000 listed).
    pub async fn scan(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreUnavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("SMEMBERS").arg(self.index_key());
        let (members,): (Vec<String>,) = self.exec(&pipe).await?;
        let mut out = Vec::new();
        let mut stale = Vec::new();
        for chunk in members
            .iter()
            .filter(|k| k.starts_with(prefix))
            .take(100_000)
            .collect::<Vec<_>>()
            .chunks(500)
        {
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.cmd("GET").arg(self.key(k));
            }
            let values: Vec<Option<String>> = self.exec(&pipe).await?;
            for (k, v) in chunk.iter().zip(values) {
                match v {
                    Some(v) => out.push(((*k).clone(), v)),
                    None => stale.push((*k).clone()),
                }
            }
        }
        if !stale.is_empty() {
            let mut pipe = redis::pipe();
            pipe.cmd("SREM").arg(self.index_key()).arg(&stale);
            // Pruning is housekeeping: a failure here does not fail the listing.
            let _ = self.exec::<(redis::Value,)>(&pipe).await;
        }
        Ok(out)
    }

    pub async fn ping(&self) -> Result<(), StoreUnavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("PING");
        self.exec::<(String,)>(&pipe).await.map(|_| ())
    }
}

/// A TTL in whole milliseconds, at least one (Redis refuses PX 0).
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

struct Connector {
    /// One URL for a standalone server; the seed nodes of a cluster.
    nodes: Vec<String>,
    /// PEM roots for rediss:// (None: the system roots).
    root_cert: Option<Vec<u8>>,
    cluster: bool,
    connect_timeout: Duration,
    command_timeout: Duration,
}

impl Connector {
    fn new(
        url: &str,
        root_cert: Option<Vec<u8>>,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Result<Connector, String> {
        let cluster_scheme = [
            ("redis+cluster://", "redis"),
            ("rediss+cluster://", "rediss"),
        ]
        .into_iter()
        .find_map(|(prefix, scheme)| url.strip_prefix(prefix).map(|rest| (rest, scheme)));
        let nodes: Vec<String> = match cluster_scheme {
            // redis+cluster://host:port,host:port: one URL per seed node.
            Some((rest, scheme)) => rest
                .split(',')
                .map(|n| format!("{scheme}://{}", n.trim()))
                .collect(),
            None => vec![url.to_string()],
        };
        for n in &nodes {
            redis::Client::open(n.as_str()).map_err(|e| format!("invalid store URL: {e}"))?;
        }
        Ok(Connector {
            nodes,
            root_cert,
            cluster: cluster_scheme.is_some(),
            connect_timeout,
            command_timeout,
        })
    }

    fn certificates(&self) -> Option<redis::TlsCertificates> {
        self.root_cert.as_ref().map(|pem| redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.clone()),
        })
    }

    async fn connect(&self) -> redis::RedisResult<Conn> {
        if self.cluster {
            let mut builder = redis::cluster::ClusterClientBuilder::new(self.nodes.clone())
                .connection_timeout(self.connect_timeout)
                .response_timeout(self.command_timeout);
            if let Some(certs) = self.certificates() {
                builder = builder.certs(certs);
            }
            let client = builder.build()?;
            return Ok(Conn::Cluster(client.get_async_connection().await?));
        }
        let url = self.nodes.first().map(String::as_str).unwrap_or_default();
        let client = match self.certificates() {
            Some(certs) => redis::Client::build_with_tls(url, certs)?,
            None => redis::Client::open(url)?,
        };
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.command_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        Ok(Conn::Single(
            ConnectionManager::new_with_config(client, cfg).await?,
        ))
    }
}
