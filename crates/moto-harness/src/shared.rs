//! One moto server shared by the tests of a test binary.

use std::ops::Deref;
use std::sync::{Arc, Mutex};

use crate::{HarnessError, MotoServer};

// Starting moto takes seconds, so the tests of one binary share a server.
// A plain static would never drop it and leave the process running after
// the tests; instead the last test still holding a use stops it.
static SHARED: Mutex<(usize, Option<Arc<MotoServer>>)> = Mutex::new((0, None));

/// A use of the test binary's shared moto server, started in serial mode
/// ([`MotoServer::start_serial`]) by the first use and stopped when the
/// last use is dropped. Tests keep their data apart by name (a table
/// prefix, a secret name, a user pool per test).
#[derive(Debug)]
pub struct SharedMoto {
    server: Arc<MotoServer>,
}

impl SharedMoto {
    /// The shared server, started if no test holds it now.
    pub fn acquire() -> Result<Self, HarnessError> {
        let mut shared = SHARED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let server = match &shared.1 {
            Some(server) => server.clone(),
            None => {
                let server = Arc::new(MotoServer::start_serial()?);
                shared.1 = Some(server.clone());
                server
            }
        };
        shared.0 += 1;
        Ok(Self { server })
    }
}

impl Deref for SharedMoto {
    type Target = MotoServer;

    fn deref(&self) -> &MotoServer {
        &self.server
    }
}

impl Drop for SharedMoto {
    fn drop(&mut self) {
        let mut shared = SHARED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        shared.0 -= 1;
        if shared.0 == 0 {
            shared.1 = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_share_one_server_until_the_last_is_dropped() {
        let first = SharedMoto::acquire().unwrap();
        let second = SharedMoto::acquire().unwrap();
        let addr = first.addr();
        assert_eq!(second.addr(), addr);
        drop(first);
        assert!(crate::answers_http(addr), "stopped while still in use");
        drop(second);
        assert!(
            !crate::answers_http(addr),
            "still answers after the last use"
        );
    }
}
