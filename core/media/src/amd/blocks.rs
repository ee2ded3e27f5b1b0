//! Cuts the audio into the fixed 20 ms blocks the detectors analyse, so
//! that what they decide does not depend on how the caller chunks it.

/// Samples per analysis block: 20 ms at 8 kHz.
pub const BLOCK: usize = 160;
/// Milliseconds per analysis block.
pub(crate) const BLOCK_MS: u32 = 20;
/// Samples per millisecond at 8 kHz.
const SAMPLES_PER_MS: usize = 8;

/// A partly filled block and the time of its first sample.
#[derive(Debug, Clone)]
pub(crate) struct Blocks {
    buf: [i16; BLOCK],
    len: usize,
    start_ms: u32,
}

impl Blocks {
    pub(crate) fn new() -> Blocks {
        Blocks {
            buf: [0; BLOCK],
            len: 0,
            start_ms: 0,
        }
    }

    /// Takes samples from the front of `samples`, whose first sample was
    /// heard at `at_ms`, until the block is full or `samples` is used up.
    /// Returns how many were taken and, when the block filled, the block
    /// and the time of its first sample.
    pub(crate) fn fill(
        &mut self,
        samples: &[i16],
        at_ms: u32,
    ) -> (usize, Option<([i16; BLOCK], u32)>) {
        if self.len == 0 {
            self.start_ms = at_ms;
        }
        let take = (BLOCK - self.len).min(samples.len());
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.len..self.len + take),
            samples.get(..take),
        ) {
            dst.copy_from_slice(src);
        }
        self.len += take;
        if self.len == BLOCK {
            self.len = 0;
            (take, Some((self.buf, self.start_ms)))
        } else {
            (take, None)
        }
    }
}

/// Calls `each` with every block completed by `frame` (heard from
/// `at_ms`) and the time of the block's first sample.
pub(crate) fn for_each_block(
    blocks: &mut Blocks,
    frame: &[i16],
    at_ms: u32,
    mut each: impl FnMut(&[i16; BLOCK], u32),
) {
    let mut done = 0;
    while done < frame.len() {
        let rest = frame.get(done..).unwrap_or_default();
        let offset_ms = u32::try_from(done / SAMPLES_PER_MS).unwrap_or(u32::MAX);
        let (took, block) = blocks.fill(rest, at_ms.saturating_add(offset_ms));
        done += took;
        if let Some((block, start_ms)) = block {
            each(&block, start_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_do_not_depend_on_chunking() {
        let samples: Vec<i16> = (0..1000).map(|i| (i % 300) as i16).collect();
        let mut whole = Vec::new();
        let mut b = Blocks::new();
        for_each_block(&mut b, &samples, 0, |blk, t| whole.push((blk.to_vec(), t)));
        let mut chunked = Vec::new();
        let mut b = Blocks::new();
        for (i, chunk) in samples.chunks(56).enumerate() {
            let at = (i * 56 / 8) as u32;
            for_each_block(&mut b, chunk, at, |blk, t| chunked.push((blk.to_vec(), t)));
        }
        assert_eq!(whole.len(), 6);
        assert_eq!(whole, chunked);
        assert_eq!(
            whole.iter().map(|w| w.1).collect::<Vec<_>>(),
            [0, 20, 40, 60, 80, 100]
        );
    }
}
