//! The Redis store (standalone with the connection manager, or Cluster). One
//! pipeline per request batch; the rate limit is a Lua GCRA step using the
//! server's clock so replicas agree. Connects in the background: the gateway
//! starts (not ready) while Redis is down and recovers by itself.

use super::{jti_key, sub_key, used_key, Batch, Outcome, StoreUnavailable};
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
                Conn::Cluster(c) => pipe.query_async::<T>(&mut c.clone()).await,
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
        if let Some((jti, ttl)) = b.single_use {
            let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            pipe.cmd("SET")
                .arg(self.key(&used_key(jti)))
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
            ..Outcome::default()
        };
        if let Some((jti, _)) = b.revocation {
            let jti_hit = !matches!(next(), redis::Value::Nil);
            out.jti_revoked = jti.is_some() && jti_hit;
            out.subject_not_before = redis::from_redis_value::<Option<u64>>(next())
                .ok()
                .flatten();
        }
        if b.single_use.is_some() {
            out.first_use = !matches!(next(), redis::Value::Nil);
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

    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreUnavailable> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ms)
            .ignore();
        self.exec::<()>(&pipe).await
    }

    pub async fn delete(&self, key: &str) -> Result<bool, StoreUnavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(self.key(key));
        let (n,): (i64,) = self.exec(&pipe).await?;
        Ok(n > 0)
    }

    /// Keys under `prefix` with their values (SCAN; standalone Redis only).
    pub async fn scan(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreUnavailable> {
        let Some(conn) = self.conn.load_full() else {
            return Err(StoreUnavailable);
        };
        let Conn::Single(c) = &*conn else {
            return Err(StoreUnavailable);
        };
        let mut c = c.clone();
        let pattern = format!("{}{prefix}*", self.prefix);
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500);
            let fut = scan.query_async::<(u64, Vec<String>)>(&mut c);
            let (next, batch) = tokio::time::timeout(self.timeout, fut)
                .await
                .map_err(|_| StoreUnavailable)?
                .map_err(|_| StoreUnavailable)?;
            keys.extend(batch);
            if next == 0 || keys.len() > 100_000 {
                break;
            }
            cursor = next;
        }
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.cmd("GET").arg(k);
            }
            let values: Vec<Option<String>> = self.exec(&pipe).await?;
            for (k, v) in chunk.iter().zip(values) {
                if let Some(v) = v {
                    out.push((k.trim_start_matches(self.prefix.as_str()).to_string(), v));
                }
            }
        }
        Ok(out)
    }

    pub async fn ping(&self) -> Result<(), StoreUnavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("PING");
        self.exec::<(String,)>(&pipe).await.map(|_| ())
    }
}

struct Connector {
    url: String,
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
        let (url, cluster) = match url.strip_prefix("redis+cluster://") {
            Some(rest) => (format!("redis://{rest}"), true),
            None => match url.strip_prefix("rediss+cluster://") {
                Some(rest) => (format!("rediss://{rest}"), true),
                None => (url.to_string(), false),
            },
        };
        redis::Client::open(url.as_str()).map_err(|e| format!("invalid store URL: {e}"))?;
        Ok(Connector {
            url,
            root_cert,
            cluster,
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
            let nodes: Vec<String> = self
                .url
                .split(',')
                .enumerate()
                .map(|(i, n)| {
                    if i == 0 {
                        n.to_string()
                    } else {
                        format!(
                            "{}://{n}",
                            if self.url.starts_with("rediss") {
                                "rediss"
                            } else {
                                "redis"
                            }
                        )
                    }
                })
                .collect();
            let mut builder = redis::cluster::ClusterClientBuilder::new(nodes)
                .connection_timeout(self.connect_timeout)
                .response_timeout(self.command_timeout);
            if let Some(certs) = self.certificates() {
                builder = builder.certs(certs);
            }
            let client = builder.build()?;
            return Ok(Conn::Cluster(client.get_async_connection().await?));
        }
        let client = match self.certificates() {
            Some(certs) => redis::Client::build_with_tls(self.url.as_str(), certs)?,
            None => redis::Client::open(self.url.as_str())?,
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
