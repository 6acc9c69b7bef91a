//! Fleet-wide results: what every node asked answered, and which nodes failed and
//! why ([`NodeResults`]). Every frontend reports them the same way: the answers
//! are shown, each failure is named beside them, and a question no node answered
//! is the first failure's error ([`NodeResults::require_any`]).

use serde::Serialize;

/// One node's failure to answer.
#[derive(Debug)]
pub struct NodeFailure {
    /// The node.
    pub node: String,
    /// Why it did not answer.
    pub error: crate::Error,
}

impl Serialize for NodeFailure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut f = s.serialize_struct("NodeFailure", 3)?;
        f.serialize_field("node", &self.node)?;
        f.serialize_field("kind", self.error.kind().as_str())?;
        f.serialize_field("error", &self.error.to_string())?;
        f.end()
    }
}

impl std::fmt::Display for NodeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.node, self.error)
    }
}

/// The answers of the nodes asked, in the order they were asked, and the nodes
/// that failed.
#[derive(Debug)]
pub struct NodeResults<T> {
    /// Each node that answered, with its answer.
    pub answers: Vec<(String, T)>,
    /// Each node that did not, with why.
    pub failures: Vec<NodeFailure>,
}

impl<T> Default for NodeResults<T> {
    fn default() -> Self {
        NodeResults {
            answers: Vec::new(),
            failures: Vec::new(),
        }
    }
}

impl<T> NodeResults<T> {
    /// Sorts per-node results, kept in order, into answers and failures.
    pub fn from_each(results: Vec<(String, Result<T, crate::Error>)>) -> Self {
        let mut out = NodeResults::default();
        for (node, r) in results {
            match r {
                Ok(v) => out.answers.push((node, v)),
                Err(error) => out.failures.push(NodeFailure { node, error }),
            }
        }
        out
    }

    /// These results, or the first failure's error when nodes were asked and none
    /// answered (so a frontend's exit code or exception says why), said to be
    /// its node's ([`crate::Error::OnNode`]).
    pub fn require_any(mut self) -> Result<Self, crate::Error> {
        if self.answers.is_empty() && !self.failures.is_empty() {
            let first = self.failures.remove(0);
            return Err(crate::Error::OnNode {
                node: first.node,
                error: Box::new(first.error),
            });
        }
        Ok(self)
    }

    /// Whether every node asked answered.
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty()
    }

    /// Each answer, without its node.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.answers.iter().map(|(_, v)| v)
    }

    /// The answers changed by `f`, the failures kept.
    pub fn map<U>(self, mut f: impl FnMut(&str, T) -> U) -> NodeResults<U> {
        NodeResults {
            answers: self
                .answers
                .into_iter()
                .map(|(n, v)| {
                    let u = f(&n, v);
                    (n, u)
                })
                .collect(),
            failures: self.failures,
        }
    }

    /// The answer of `node`, if it answered.
    pub fn get(&self, node: &str) -> Option<&T> {
        self.answers.iter().find(|(n, _)| n == node).map(|(_, v)| v)
    }
}

impl<T, I: IntoIterator<Item = T>> NodeResults<I> {
    /// Every item of every answer, in node order (each item says its node), and
    /// the failures.
    pub fn gather(self) -> Gathered<T> {
        Gathered {
            items: self.answers.into_iter().flat_map(|(_, v)| v).collect(),
            failures: self.failures,
        }
    }
}

impl<T> NodeResults<Vec<T>> {
    /// Every item of every answer with its node, in node order, and the failures.
    pub fn gather_tagged(self) -> Gathered<OnNode<T>> {
        Gathered {
            items: self
                .answers
                .into_iter()
                .flat_map(|(node, v)| {
                    v.into_iter().map(move |value| OnNode {
                        node: node.clone(),
                        value,
                    })
                })
                .collect(),
            failures: self.failures,
        }
    }
}

/// The items every node answered with, as one list, and the nodes that failed.
#[derive(Debug)]
pub struct Gathered<T> {
    /// Every item, in node order unless the query sorts them.
    pub items: Vec<T>,
    /// Each node that did not answer, with why.
    pub failures: Vec<NodeFailure>,
}

/// A value that does not say which node it is from, with its node (for `--json`
/// and Python records of such values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnNode<T> {
    /// The node.
    pub node: String,
    /// The value.
    #[serde(flatten)]
    pub value: T,
}

#[cfg(test)]
mod tests {
    use mcp_model::ErrorKind;
    use mcp_model::config::ConfigError;

    use super::*;

    fn failure(node: &str) -> (String, Result<u32, crate::Error>) {
        let e = ConfigError::UnknownNode {
            node: node.into(),
            path: "mcp.toml".into(),
            known: String::new(),
        };
        (node.into(), Err(e.into()))
    }

    #[test]
    fn some_answers_keep_the_failures_and_none_is_the_first_error() {
        let some = NodeResults::from_each(vec![("a".into(), Ok(1)), failure("b")]);
        assert!(!some.is_complete());
        let some = some.require_any().expect("a answered");
        assert_eq!(some.answers, [("a".to_owned(), 1)]);
        assert_eq!(some.failures[0].node, "b");
        let json = serde_json::to_value(&some.failures).expect("json");
        assert_eq!(json[0]["kind"], "not_found");

        let none = NodeResults::from_each(vec![failure("b"), failure("c")]);
        let err = none.require_any().expect_err("nobody answered");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(
            err.to_string().contains("\"b\""),
            "the first failure: {err}"
        );

        let asked_nobody = NodeResults::<u32>::from_each(Vec::new());
        assert!(asked_nobody.require_any().is_ok());
    }
}
