//! The corpora of the `search` scenario: Cranfield (its 1,400 abstracts and 225 queries), and a
//! generated corpus of notes whose words are drawn from Cranfield's vocabulary with Cranfield's
//! word frequencies (so term statistics are Zipf-like, as in real text), with queries of one to
//! four words taken from random notes. The generator is deterministic: the same `--notes` give
//! the same notes and queries on every machine.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::eval::dataset::Dataset;

/// Seed of the generator.
const SEED: u64 = 0x5eed_cafe;
/// Queries generated for a generated corpus.
pub const GENERATED_QUERIES: usize = 1000;

/// One document of a corpus.
#[derive(Debug, Clone)]
pub struct Note {
    /// Client-chosen item id (`a-z`, `0-9`, `-`).
    pub id: String,
    pub title: String,
    pub content: String,
}

/// Documents and the queries asked of them.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// `cranfield` or `generated`.
    pub name: String,
    pub notes: Vec<Note>,
    pub queries: Vec<String>,
}

/// The Cranfield documents (the abstract as content) and queries.
pub fn cranfield(dataset: &Dataset) -> Corpus {
    let notes = dataset
        .docs
        .iter()
        .map(|doc| {
            let (id, item) = crate::eval::api::doc_item(doc);
            Note {
                id,
                title: item.title,
                content: item.content,
            }
        })
        .collect();
    Corpus {
        name: "cranfield".to_owned(),
        notes,
        queries: dataset.queries.iter().map(|q| q.text.clone()).collect(),
    }
}

/// Words of Cranfield's documents (letters only, 2 bytes or more) by frequency.
struct Vocabulary {
    words: Vec<String>,
    /// Cumulative counts, for sampling by frequency.
    cumulative: Vec<u64>,
}

impl Vocabulary {
    fn of(dataset: &Dataset) -> Self {
        let mut counts: HashMap<String, u64> = HashMap::new();
        for doc in &dataset.docs {
            for word in doc.text.split(|c: char| !c.is_ascii_alphabetic()) {
                if word.len() >= 2 {
                    *counts.entry(word.to_ascii_lowercase()).or_default() += 1;
                }
            }
        }
        let mut by_frequency: Vec<(String, u64)> = counts.into_iter().collect();
        by_frequency.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut total = 0;
        let mut words = Vec::with_capacity(by_frequency.len());
        let mut cumulative = Vec::with_capacity(by_frequency.len());
        for (word, count) in by_frequency {
            total += count;
            words.push(word);
            cumulative.push(total);
        }
        Vocabulary { words, cumulative }
    }

    fn sample(&self, rng: &mut StdRng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1);
        let target = rng.gen_range(0..total);
        let index = self.cumulative.partition_point(|c| *c <= target);
        &self.words[index.min(self.words.len() - 1)]
    }

    fn words(&self, rng: &mut StdRng, count: usize) -> Vec<&str> {
        (0..count).map(|_| self.sample(rng)).collect()
    }
}

/// `count` notes: a title of 3 to 9 words, a body of 3 to 12 sentences of 6 to 20 words (about
/// 500 bytes to 2 KB of markdown), plus [`GENERATED_QUERIES`] queries of 1 to 4 words, each
/// taken from one random note's title and body.
pub fn generated(dataset: &Dataset, count: usize) -> Corpus {
    let vocabulary = Vocabulary::of(dataset);
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut notes = Vec::with_capacity(count);
    for index in 0..count {
        let title_words = rng.gen_range(3..=9);
        let title = vocabulary.words(&mut rng, title_words).join(" ");
        let mut content = String::new();
        for _ in 0..rng.gen_range(3..=12) {
            let length = rng.gen_range(6..=20);
            let sentence = vocabulary.words(&mut rng, length).join(" ");
            if !content.is_empty() {
                content.push(' ');
            }
            content.push_str(&sentence);
            content.push('.');
        }
        notes.push(Note {
            id: format!("gen-{index}"),
            title,
            content,
        });
    }
    let mut queries = Vec::with_capacity(GENERATED_QUERIES);
    while queries.len() < GENERATED_QUERIES && !notes.is_empty() {
        let note = &notes[rng.gen_range(0..notes.len())];
        let words: Vec<&str> = note
            .title
            .split(' ')
            .chain(note.content.split([' ', '.']))
            .filter(|w| !w.is_empty())
            .collect();
        let length = rng.gen_range(1..=4).min(words.len());
        let start = rng.gen_range(0..=words.len() - length);
        // A few consecutive words of the note: what someone remembering it would type.
        queries.push(words[start..start + length].join(" "));
    }
    Corpus {
        name: "generated".to_owned(),
        notes,
        queries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::dataset::{Doc, EvalQuery};

    fn tiny() -> Dataset {
        Dataset {
            docs: vec![Doc {
                id: "1".into(),
                title: "flow".into(),
                text: "the flow of air over the wing, the flow behind the wing".into(),
            }],
            queries: vec![EvalQuery {
                id: 1,
                text: "flow".into(),
            }],
            qrels: Default::default(),
        }
    }

    #[test]
    fn generation_is_deterministic_and_uses_the_vocabulary() {
        let a = generated(&tiny(), 50);
        let b = generated(&tiny(), 50);
        assert_eq!(a.notes.len(), 50);
        assert_eq!(a.queries.len(), GENERATED_QUERIES);
        assert_eq!(a.notes[49].content, b.notes[49].content);
        assert_eq!(a.queries, b.queries);
        let known = ["the", "flow", "of", "air", "over", "wing", "behind"];
        for word in a.notes[7].title.split(' ') {
            assert!(known.contains(&word), "{word}");
        }
        assert!(a.queries.iter().all(|q| !q.is_empty()));
    }
}
