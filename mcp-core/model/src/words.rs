//! Closed vocabularies: enums whose every variant has exactly one spelling, used
//! alike in definition files, the registry, on the wire, in JSON and in Python.
//!
//! [`words!`](macro@crate::words) writes the one conversion each needs: `as_str`,
//! `parse`, `ALL`, `Display`, `FromStr` (whose error names every spelling) and serde
//! as the spelling. Nothing else in MCP spells these words.

/// Defines a closed vocabulary enum. Each variant is followed by `=> "spelling"`.
///
/// ```
/// mcp_model::words! {
///     /// A colour.
///     pub enum Colour: "colour" {
///         /// Red.
///         Red => "red",
///         /// Green.
///         Green => "green",
///     }
/// }
/// assert_eq!(Colour::parse("red"), Some(Colour::Red));
/// assert_eq!(Colour::Green.to_string(), "green");
/// let err = "blue".parse::<Colour>().unwrap_err();
/// assert_eq!(err, "unknown colour \"blue\": red or green");
/// ```
#[macro_export]
macro_rules! words {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $word:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The one spelling of this word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word ),+
                }
            }

            /// The word spelled `s`, if any.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $( $word => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $name::parse(s).ok_or_else(|| {
                    $crate::words::unknown($what, s, &[$($word),+])
                })
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

/// The message for a word that is not one of `words`: `unknown mode "l5": l4 or l7`.
#[doc(hidden)]
pub fn unknown(what: &str, got: &str, words: &[&str]) -> String {
    let list = match words {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    format!("unknown {what} {got:?}: {list}")
}
