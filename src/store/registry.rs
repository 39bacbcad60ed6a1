//! The store across reloads: kept while its configuration is unchanged.

use super::{MemoryStore, RedisStore, Store};

/// Keeps the store across reloads while its configuration is unchanged, so a
/// reload neither drops the Redis connection nor empties the memory store.
#[derive(Default)]
pub struct StoreRegistry {
    current: std::sync::Mutex<Option<(crate::store::settings::Store, std::sync::Arc<Store>)>>,
}

impl StoreRegistry {
    pub fn get_or_create(
        &self,
        cfg: &crate::store::settings::Store,
    ) -> Result<std::sync::Arc<Store>, String> {
        let mut slot = self
            .current
            .lock()
            .map_err(|_| "store registry poisoned".to_string())?;
        if let Some((c, s)) = slot.as_ref() {
            if c == cfg {
                return Ok(s.clone());
            }
        }
        let store = std::sync::Arc::new(match &cfg.kind {
            crate::store::settings::StoreKind::Memory { max_entries } => {
                Store::Memory(MemoryStore::new(*max_entries))
            }
            crate::store::settings::StoreKind::Redis { url } => Store::Redis(RedisStore::start(
                url,
                cfg.ca.as_deref(),
                &cfg.key_prefix,
                cfg.connect_timeout,
                cfg.command_timeout,
            )?),
        });
        *slot = Some((cfg.clone(), store.clone()));
        Ok(store)
    }
}
