//! Source files, held once: `FileId`, `SourceMap` and line/column lookup.

use crate::{TextRange, TextSize};

/// Names a file in a `SourceMap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(u32);

/// A one-based line and column (in characters), as editors show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
}

struct File {
    name: String,
    text: String,
    /// Offsets where each line starts.
    line_starts: Vec<u32>,
}

/// Every source text a diagnostic may point into. Errors hold `Span`s, never text.
#[derive(Default)]
pub struct SourceMap {
    files: Vec<File>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file; `name` is how diagnostics show it (a path relative to where the user is).
    pub fn add(&mut self, name: String, text: String) -> FileId {
        let line_starts =
            std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i as u32 + 1)).collect();
        self.files.push(File { name, text, line_starts });
        FileId(self.files.len() as u32 - 1)
    }

    /// The file added under `name` (the first, if several were).
    pub fn find(&self, name: &str) -> Option<FileId> {
        self.files.iter().position(|f| f.name == name).map(|i| FileId(i as u32))
    }

    /// The span of a whole file.
    pub fn file_span(&self, file: FileId) -> crate::Span {
        let len = self.files[file.0 as usize].text.len() as u32;
        crate::Span { file, range: TextRange::up_to(len.into()) }
    }

    pub fn name(&self, file: FileId) -> &str {
        &self.files[file.0 as usize].name
    }

    pub fn text(&self, file: FileId) -> &str {
        &self.files[file.0 as usize].text
    }

    /// The line and column of an offset (clamped to the file).
    pub fn line_col(&self, file: FileId, offset: TextSize) -> LineCol {
        let file = &self.files[file.0 as usize];
        let offset = u32::from(offset).min(file.text.len() as u32);
        let line = file.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = file.line_starts[line] as usize;
        let mut end = offset as usize;
        while !file.text.is_char_boundary(end) {
            end -= 1;
        }
        let column = file.text[start..end].chars().count() as u32 + 1;
        LineCol { line: line as u32 + 1, column }
    }

    /// A range clamped to the file and to character boundaries.
    pub(crate) fn clamp(&self, file: FileId, range: TextRange) -> TextRange {
        let text = &self.files[file.0 as usize].text;
        let fix = |offset: TextSize| {
            let mut offset = (u32::from(offset) as usize).min(text.len());
            while !text.is_char_boundary(offset) {
                offset -= 1;
            }
            TextSize::new(offset as u32)
        };
        TextRange::new(fix(range.start()), fix(range.end()).max(fix(range.start())))
    }
}
