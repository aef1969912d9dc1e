//! The per-connection queue that keeps answers in request order.
//!
//! Every request takes a slot at the back; answers arrive in any order and fill their
//! slot; only filled slots at the front may be written to the client. A slot remembers
//! its job key so a closing connection can cancel the jobs it still waits for.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;

/// An answer line without its `\r\n`; the timeout answer is a static string.
pub type Answer = Cow<'static, str>;

#[derive(Debug)]
struct Slot<K> {
    key: K,
    answer: Option<Answer>,
}

#[derive(Debug)]
pub struct AnswerQueue<K> {
    /// Sequence number of the front slot; slot `i` has `front_seq + i`.
    front_seq: u64,
    slots: VecDeque<Slot<K>>,
    /// Bytes of the answers held (filled, not yet popped): part of the gate's memory budget.
    filled_bytes: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum FillError {
    /// The slot was already written out, or was never handed out.
    NotPending,
    /// The slot holds an answer already (a second answer for one job).
    AlreadyAnswered,
}

impl fmt::Display for FillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FillError::NotPending => write!(f, "no pending slot with that sequence number"),
            FillError::AlreadyAnswered => write!(f, "slot already answered"),
        }
    }
}

impl std::error::Error for FillError {}

impl<K> Default for AnswerQueue<K> {
    fn default() -> Self {
        AnswerQueue {
            front_seq: 0,
            slots: VecDeque::new(),
            filled_bytes: 0,
        }
    }
}

impl<K> AnswerQueue<K> {
    pub fn new() -> AnswerQueue<K> {
        AnswerQueue::default()
    }

    /// Takes the next slot for a request; the returned sequence number fills it later.
    pub fn push(&mut self, key: K) -> u64 {
        let seq = self.front_seq + self.slots.len() as u64;
        self.slots.push_back(Slot { key, answer: None });
        seq
    }

    pub fn fill(&mut self, seq: u64, answer: Answer) -> Result<(), FillError> {
        let index = seq
            .checked_sub(self.front_seq)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < self.slots.len())
            .ok_or(FillError::NotPending)?;
        let slot = &mut self.slots[index];
        if slot.answer.is_some() {
            return Err(FillError::AlreadyAnswered);
        }
        self.filled_bytes += answer.len();
        slot.answer = Some(answer);
        Ok(())
    }

    /// The front answer, if it has arrived; later answers wait for it.
    pub fn pop_ready(&mut self) -> Option<(K, Answer)> {
        self.slots.front()?.answer.as_ref()?;
        let slot = self.slots.pop_front()?;
        self.front_seq += 1;
        let answer = slot.answer?;
        self.filled_bytes -= answer.len();
        Some((slot.key, answer))
    }

    /// Bytes of the answers that arrived and wait to be written.
    pub fn filled_bytes(&self) -> usize {
        self.filled_bytes
    }

    /// Slots handed out and not yet written (answered or not).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Keys of the slots that still wait for their answer.
    pub fn unanswered_keys(&self) -> impl Iterator<Item = &K> {
        self.slots
            .iter()
            .filter(|s| s.answer.is_none())
            .map(|s| &s.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut AnswerQueue<&'static str>) -> Vec<String> {
        std::iter::from_fn(|| q.pop_ready().map(|(_, a)| a.into_owned())).collect()
    }

    #[test]
    fn answers_leave_in_request_order() {
        let mut q = AnswerQueue::new();
        let a = q.push("a");
        let b = q.push("b");
        let c = q.push("c");
        q.fill(c, "C".into()).unwrap();
        q.fill(b, "B".into()).unwrap();
        assert!(drain(&mut q).is_empty(), "b and c must wait for a");
        q.fill(a, "A".into()).unwrap();
        assert_eq!(drain(&mut q), ["A", "B", "C"]);
        assert!(q.is_empty());
    }

    #[test]
    fn sequence_numbers_keep_counting_after_pops() {
        let mut q = AnswerQueue::new();
        for round in 0..3u64 {
            let s = q.push("k");
            assert_eq!(s, round);
            q.fill(s, Cow::Borrowed("x")).unwrap();
            assert_eq!(drain(&mut q), ["x"]);
        }
    }

    #[test]
    fn stale_and_double_fills_are_refused() {
        let mut q = AnswerQueue::new();
        let a = q.push("a");
        let b = q.push("b");
        assert_eq!(q.fill(b + 1, "?".into()), Err(FillError::NotPending));
        q.fill(b, "B".into()).unwrap();
        assert_eq!(q.fill(b, "B2".into()), Err(FillError::AlreadyAnswered));
        q.fill(a, "A".into()).unwrap();
        assert_eq!(drain(&mut q), ["A", "B"]);
        assert_eq!(q.fill(a, "late".into()), Err(FillError::NotPending));
    }

    #[test]
    fn unanswered_keys_are_the_jobs_to_cancel() {
        let mut q = AnswerQueue::new();
        let _a = q.push("a");
        let b = q.push("b");
        let _c = q.push("c");
        q.fill(b, "B".into()).unwrap();
        let keys: Vec<_> = q.unanswered_keys().copied().collect();
        assert_eq!(keys, ["a", "c"]);
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn filled_bytes_count_answers_held() {
        let mut q = AnswerQueue::new();
        let a = q.push("a");
        let b = q.push("b");
        assert_eq!(q.filled_bytes(), 0);
        q.fill(b, "BBB".into()).unwrap();
        assert_eq!(q.fill(b, "again".into()), Err(FillError::AlreadyAnswered));
        assert_eq!(q.filled_bytes(), 3);
        q.fill(a, "A".into()).unwrap();
        assert_eq!(q.filled_bytes(), 4);
        assert_eq!(drain(&mut q), ["A", "BBB"]);
        assert_eq!(q.filled_bytes(), 0);
    }
}
