//! Voice prompts: WAV files converted once, at load, to 8 kHz mono and to
//! both G.711 laws, so playing one costs a copy per frame and no encoding.
//!
//! Loading is strict. A prompt that is broken (truncated, a header that
//! promises more audio than the file holds, an encoding hound cannot
//! decode, an absurd rate) is an error naming the file, because a PBX
//! that silently plays half a greeting or a burst of noise is worse than
//! one that refuses to start and says which file to fix.
//! [`PromptCache::load_dir`] collects every bad file in one error so that
//! `waihu check` can list them all at once.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hound::{SampleFormat, WavReader};
use thiserror::Error;

use crate::g711::Law;
use crate::resample::{self, MAX_INPUT_RATE, MIN_INPUT_RATE, OUTPUT_RATE, Pcm, ResampleError};

/// Prompts longer than this are refused: a prompt is a sentence or a
/// menu, and every loaded prompt stays in memory three times over.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 60);
/// Files larger than this are refused before they are read. Ten minutes
/// of 96 kHz stereo 24-bit fits; anything bigger is not a prompt.
pub const MAX_FILE_BYTES: u64 = 400 * 1024 * 1024;
/// Directory depth limit, so a symlink loop ends in an error instead of
/// running forever.
const MAX_DEPTH: usize = 16;

/// Why one prompt file could not be loaded. Every variant names the file.
#[non_exhaustive]
#[derive(Debug, Error)]
pub enum PromptError {
    /// The file (or a directory on the way to it) could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Not a WAV file, or a WAV encoding that is not plain PCM or float
    /// (ADPCM, 12-bit, zero channels, an inconsistent header...).
    #[error("{}: not a WAV file waihu can play: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What the WAV decoder objected to.
        reason: String,
    },
    /// The header promises more audio than the file holds.
    #[error(
        "{}: truncated: the header promises {promised} samples but the file ends after {found}",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Samples (all channels) announced by the data chunk header.
        promised: u64,
        /// Samples actually present.
        found: u64,
    },
    /// The sample rate is absurd.
    #[error(
        "{}: sample rate {rate} Hz is outside {MIN_INPUT_RATE}..={MAX_INPUT_RATE} Hz",
        path.display()
    )]
    Rate {
        /// The file.
        path: PathBuf,
        /// The rate its header claims.
        rate: u32,
    },
    /// Longer than [`MAX_DURATION`].
    #[error("{}: {secs} s of audio, more than the {} s limit for a prompt", path.display(), MAX_DURATION.as_secs())]
    TooLong {
        /// The file.
        path: PathBuf,
        /// Its length in whole seconds.
        secs: u64,
    },
    /// Larger than [`MAX_FILE_BYTES`].
    #[error("{}: {bytes} bytes, more than the {MAX_FILE_BYTES} byte limit for a prompt", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// A valid WAV file with no audio in it.
    #[error("{}: contains no audio", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The conversion to 8 kHz mono failed.
    #[error("{}: cannot convert to 8 kHz mono: {source}", path.display())]
    Convert {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ResampleError,
    },
    /// The file's path cannot be used as a prompt name (not UTF-8).
    #[error("{}: the path is not valid UTF-8, so it cannot name a prompt", path.display())]
    BadName {
        /// The file.
        path: PathBuf,
    },
    /// Two files map to the same prompt name (e.g. `a.wav` and `a.WAV`).
    #[error("{}: prompt name {name:?} is already taken by {}", path.display(), other.display())]
    Duplicate {
        /// The file refused.
        path: PathBuf,
        /// The file that was loaded under that name.
        other: PathBuf,
        /// The name.
        name: String,
    },
}

impl PromptError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            PromptError::Io { path, .. }
            | PromptError::Format { path, .. }
            | PromptError::Truncated { path, .. }
            | PromptError::Rate { path, .. }
            | PromptError::TooLong { path, .. }
            | PromptError::TooLarge { path, .. }
            | PromptError::Empty { path }
            | PromptError::Convert { path, .. }
            | PromptError::BadName { path }
            | PromptError::Duplicate { path, .. } => path,
        }
    }
}

/// Why a prompt directory could not be loaded.
#[non_exhaustive]
#[derive(Debug, Error)]
pub enum PromptDirError {
    /// The directory itself could not be read.
    #[error("cannot read prompt directory {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Some files were bad; all of them are listed.
    #[error("{}", BadFilesDisplay { dir, errors })]
    BadFiles {
        /// The directory.
        dir: PathBuf,
        /// One entry per bad file, in path order.
        errors: Vec<PromptError>,
    },
}

struct BadFilesDisplay<'a> {
    dir: &'a Path,
    errors: &'a [PromptError],
}

impl fmt::Display for BadFilesDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bad prompt file(s) in {}:",
            self.errors.len(),
            self.dir.display()
        )?;
        for e in self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// One prompt, ready to play: 8 kHz mono samples and their G.711
/// encodings, computed once.
pub struct Prompt {
    name: String,
    samples: Box<[i16]>,
    pcmu: Box<[u8]>,
    pcma: Box<[u8]>,
}

impl fmt::Debug for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("name", &self.name)
            .field("samples", &self.samples.len())
            .finish()
    }
}

impl Prompt {
    /// A prompt from 8 kHz mono samples (encodes both laws now).
    pub fn from_samples(name: impl Into<String>, samples: Vec<i16>) -> Prompt {
        let mut pcmu = Vec::with_capacity(samples.len());
        Law::Ulaw.encode(&samples, &mut pcmu);
        let mut pcma = Vec::with_capacity(samples.len());
        Law::Alaw.encode(&samples, &mut pcma);
        Prompt {
            name: name.into(),
            samples: samples.into_boxed_slice(),
            pcmu: pcmu.into_boxed_slice(),
            pcma: pcma.into_boxed_slice(),
        }
    }

    /// Loads `path` with [`load_wav`] under `name`.
    pub fn load(name: impl Into<String>, path: &Path) -> Result<Prompt, PromptError> {
        Ok(Prompt::from_samples(name, load_wav(path)?))
    }

    /// The prompt's name (its path under the prompt directory, without
    /// extension, '/'-separated).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 8 kHz mono samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// The samples encoded with `law`, one byte per sample.
    pub fn encoded(&self, law: Law) -> &[u8] {
        match law {
            Law::Ulaw => &self.pcmu,
            Law::Alaw => &self.pcma,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when the prompt has no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Playing time.
    pub fn duration(&self) -> Duration {
        samples_to_duration(self.samples.len() as u64)
    }
}

pub(crate) fn samples_to_duration(samples: u64) -> Duration {
    Duration::from_micros(samples.saturating_mul(1_000_000) / u64::from(OUTPUT_RATE))
}

/// Reads a WAV file (8/16/24/32-bit integer or 32-bit float, any channel
/// count, 4..=192 kHz) and converts it to 8 kHz mono 16-bit.
pub fn load_wav(path: &Path) -> Result<Vec<i16>, PromptError> {
    let io_err = |source| PromptError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = fs::metadata(path).map_err(io_err)?.len();
    if bytes > MAX_FILE_BYTES {
        return Err(PromptError::TooLarge {
            path: path.to_path_buf(),
            bytes,
        });
    }
    let data = fs::read(path).map_err(io_err)?;
    decode_wav(path, &data)
}

/// [`load_wav`] on bytes already in memory; `path` only names the source
/// in errors.
pub fn decode_wav(path: &Path, data: &[u8]) -> Result<Vec<i16>, PromptError> {
    let format_err = |e: hound::Error| PromptError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut reader = WavReader::new(Cursor::new(data)).map_err(format_err)?;
    let spec = reader.spec();
    if !(MIN_INPUT_RATE..=MAX_INPUT_RATE).contains(&spec.sample_rate) {
        return Err(PromptError::Rate {
            path: path.to_path_buf(),
            rate: spec.sample_rate,
        });
    }
    if spec.channels == 0 {
        return Err(format_err(hound::Error::FormatError("zero channels")));
    }
    let frames = u64::from(reader.duration());
    let secs = frames / u64::from(spec.sample_rate);
    if secs > MAX_DURATION.as_secs()
        || (secs == MAX_DURATION.as_secs() && frames % u64::from(spec.sample_rate) != 0)
    {
        return Err(PromptError::TooLong {
            path: path.to_path_buf(),
            secs,
        });
    }
    let promised = u64::from(reader.len());
    if promised == 0 {
        return Err(PromptError::Empty {
            path: path.to_path_buf(),
        });
    }
    // A lying header must not make us allocate what it claims: no sample
    // takes less than a byte, so the file size bounds the real count.
    let cap = usize::try_from(promised.min(data.len() as u64)).unwrap_or(0);

    fn collect<S: hound::Sample>(
        reader: &mut WavReader<Cursor<&[u8]>>,
        cap: usize,
    ) -> Result<Vec<S>, (hound::Error, u64)> {
        let mut out = Vec::with_capacity(cap);
        for s in reader.samples::<S>() {
            match s {
                Ok(s) => out.push(s),
                Err(e) => return Err((e, out.len() as u64)),
            }
        }
        Ok(out)
    }
    // The bytes are in memory, so an I/O error while reading samples can
    // only mean they ran out (hound reports that as a generic I/O error,
    // not as UnexpectedEof).
    let read_err = |(e, found): (hound::Error, u64)| match e {
        hound::Error::IoError(_) => PromptError::Truncated {
            path: path.to_path_buf(),
            promised,
            found,
        },
        e => format_err(e),
    };

    let ch = spec.channels;
    let rate = spec.sample_rate;
    let converted = match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Float, 32) => {
            let s = collect::<f32>(&mut reader, cap).map_err(read_err)?;
            resample::to_8k_mono(Pcm::F32(&s), ch, rate)
        }
        (SampleFormat::Int, 8) => {
            let s = collect::<i8>(&mut reader, cap).map_err(read_err)?;
            resample::to_8k_mono(Pcm::I8(&s), ch, rate)
        }
        (SampleFormat::Int, 16) => {
            let s = collect::<i16>(&mut reader, cap).map_err(read_err)?;
            resample::to_8k_mono(Pcm::I16(&s), ch, rate)
        }
        (SampleFormat::Int, bits @ (24 | 32)) => {
            let s = collect::<i32>(&mut reader, cap).map_err(read_err)?;
            resample::to_8k_mono(Pcm::I32 { samples: &s, bits }, ch, rate)
        }
        (format, bits) => {
            return Err(PromptError::Format {
                path: path.to_path_buf(),
                reason: format!("{bits}-bit {format:?} samples are not supported"),
            });
        }
    };
    converted.map_err(|source| PromptError::Convert {
        path: path.to_path_buf(),
        source,
    })
}

/// Every prompt of a directory, by name.
#[derive(Debug, Default, Clone)]
pub struct PromptCache {
    prompts: BTreeMap<String, Arc<Prompt>>,
}

impl PromptCache {
    /// An empty cache.
    pub fn new() -> PromptCache {
        PromptCache::default()
    }

    /// Loads every `*.wav` (any case) under `dir`, recursively. A file
    /// `dir/zh/digits/5.wav` becomes the prompt `"zh/digits/5"`.
    ///
    /// Either every file loads, or the error lists every file that did
    /// not, with the reason.
    pub fn load_dir(dir: &Path) -> Result<PromptCache, PromptDirError> {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        if let Err(source) = fs::read_dir(dir) {
            return Err(PromptDirError::Dir {
                path: dir.to_path_buf(),
                source,
            });
        }
        walk(dir, 0, &mut files, &mut errors);
        files.sort();

        let mut cache = PromptCache::new();
        let mut sources: BTreeMap<String, PathBuf> = BTreeMap::new();
        for path in files {
            let name = match prompt_name(dir, &path) {
                Some(n) => n,
                None => {
                    errors.push(PromptError::BadName { path });
                    continue;
                }
            };
            if let Some(other) = sources.get(&name) {
                errors.push(PromptError::Duplicate {
                    path,
                    other: other.clone(),
                    name,
                });
                continue;
            }
            match Prompt::load(name.clone(), &path) {
                Ok(p) => {
                    cache.insert(p);
                    sources.insert(name, path);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(cache)
        } else {
            errors.sort_by(|a, b| a.path().cmp(b.path()));
            Err(PromptDirError::BadFiles {
                dir: dir.to_path_buf(),
                errors,
            })
        }
    }

    /// Adds (or replaces) a prompt under its own name.
    pub fn insert(&mut self, prompt: Prompt) {
        self.prompts
            .insert(prompt.name().to_owned(), Arc::new(prompt));
    }

    /// The prompt called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Prompt>> {
        self.prompts.get(name).cloned()
    }

    /// All names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.prompts.keys().map(String::as_str)
    }

    /// Number of prompts.
    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    /// True when there are no prompts.
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }
}

fn is_wav(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
}

fn walk(dir: &Path, depth: usize, files: &mut Vec<PathBuf>, errors: &mut Vec<PromptError>) {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) => {
            errors.push(PromptError::Io {
                path: dir.to_path_buf(),
                source,
            });
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(source) => {
                errors.push(PromptError::Io {
                    path: dir.to_path_buf(),
                    source,
                });
                continue;
            }
        };
        let path = entry.path();
        // Follows symlinks, so a linked prompt or language directory works.
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(source) => {
                if is_wav(&path) {
                    errors.push(PromptError::Io { path, source });
                }
                continue;
            }
        };
        if meta.is_dir() {
            if depth + 1 >= MAX_DEPTH {
                errors.push(PromptError::Io {
                    path,
                    source: io::Error::other(format!(
                        "nested more than {MAX_DEPTH} directories deep (a symlink loop?)"
                    )),
                });
            } else {
                walk(&path, depth + 1, files, errors);
            }
        } else if meta.is_file() && is_wav(&path) {
            files.push(path);
        }
    }
}

fn prompt_name(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?.with_extension("");
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    let name = parts?.join("/");
    (!name.is_empty()).then_some(name)
}
