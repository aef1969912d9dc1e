//! Which local connections listen on which chat channel.
//!
//! A channel is one NATS subject: `chat.<world>.public` or `chat.<world>.family.<fid>`. The
//! edge subscribes when a channel gets its first local member and unsubscribes when the
//! last one leaves; this table says when. Connections are named by their slot number.

use std::collections::{HashMap, HashSet};

use crate::codec::ChatKind;
use crate::login::Identity;

// Spelled in the contract, with the worker's chat events.
pub use shared::contract::{
    chat_family_subject as family_subject, chat_public_subject as public_subject,
};

/// The channels an identity belongs to: its world's public chat and, if it has one, its
/// family's.
pub fn channels_of(identity: &Identity) -> Vec<(String, ChatKind)> {
    let mut out = vec![(public_subject(&identity.world), ChatKind::Public)];
    if let Some(fid) = &identity.fid {
        out.push((family_subject(&identity.world, fid), ChatKind::Family));
    }
    out
}

#[derive(Debug)]
struct Members {
    kind: ChatKind,
    slots: HashSet<usize>,
}

#[derive(Debug, Default)]
pub struct Membership {
    channels: HashMap<String, Members>,
}

impl Membership {
    pub fn new() -> Membership {
        Membership::default()
    }

    /// Adds `slot`; true when the channel was empty, i.e. the edge must subscribe now.
    pub fn join(&mut self, subject: &str, kind: ChatKind, slot: usize) -> bool {
        match self.channels.get_mut(subject) {
            Some(members) => {
                members.slots.insert(slot);
                false
            }
            None => {
                let mut slots = HashSet::new();
                slots.insert(slot);
                self.channels
                    .insert(subject.to_string(), Members { kind, slots });
                true
            }
        }
    }

    /// Removes `slot`; true when it was the last member, i.e. the edge must unsubscribe now.
    pub fn leave(&mut self, subject: &str, slot: usize) -> bool {
        let Some(members) = self.channels.get_mut(subject) else {
            return false;
        };
        members.slots.remove(&slot);
        if members.slots.is_empty() {
            self.channels.remove(subject);
            true
        } else {
            false
        }
    }

    /// The channel's kind and its local members, if it has any.
    pub fn members(&self, subject: &str) -> Option<(ChatKind, impl Iterator<Item = usize> + '_)> {
        self.channels
            .get(subject)
            .map(|m| (m.kind, m.slots.iter().copied()))
    }

    pub fn len(&self) -> usize {
        self.channels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Every channel with local members, and its kind.
    pub fn channels(&self) -> impl Iterator<Item = (&str, ChatKind)> {
        self.channels.iter().map(|(s, m)| (s.as_str(), m.kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(m: &Membership, subject: &str) -> Vec<usize> {
        let mut v: Vec<usize> = m
            .members(subject)
            .map(|(_, it)| it.collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn subjects_follow_the_contract() {
        let id = Identity {
            world: "s0".into(),
            gn: "Ann".into(),
            fid: Some("f7".into()),
            pid: None,
        };
        assert_eq!(
            channels_of(&id),
            vec![
                ("chat.s0.public".to_string(), ChatKind::Public),
                ("chat.s0.family.f7".to_string(), ChatKind::Family)
            ]
        );
        let loner = Identity { fid: None, ..id };
        assert_eq!(channels_of(&loner).len(), 1);
    }

    #[test]
    fn first_join_and_last_leave_are_reported() {
        let mut m = Membership::new();
        assert!(m.join("chat.s0.public", ChatKind::Public, 1));
        assert!(!m.join("chat.s0.public", ChatKind::Public, 2));
        assert!(!m.join("chat.s0.public", ChatKind::Public, 2));
        assert_eq!(sorted(&m, "chat.s0.public"), [1, 2]);
        assert!(!m.leave("chat.s0.public", 1));
        assert!(m.leave("chat.s0.public", 2));
        assert!(m.is_empty());
        assert!(m.members("chat.s0.public").is_none());
        // Leaving twice, or a channel never joined, asks for nothing.
        assert!(!m.leave("chat.s0.public", 2));
    }

    #[test]
    fn channels_are_independent() {
        let mut m = Membership::new();
        m.join("chat.s0.public", ChatKind::Public, 1);
        m.join("chat.s0.family.a", ChatKind::Family, 1);
        m.join("chat.s0.family.b", ChatKind::Family, 2);
        assert_eq!(m.len(), 3);
        assert_eq!(sorted(&m, "chat.s0.family.a"), [1]);
        let (kind, _) = m.members("chat.s0.family.b").unwrap();
        assert_eq!(kind, ChatKind::Family);
        assert!(m.leave("chat.s0.family.a", 1));
        assert_eq!(m.len(), 2);
    }
}
