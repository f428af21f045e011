//! A noise: delta at the bundle's resolution, made from a caption and a key.

/// Noise made by the generator: delta in [0,1] pixel units, `3 x R x R` (RGB planes), with
/// |delta| <= epsilon. Place it on photos or frames of any size with
/// [`crate::apply_noise`] or the engine's protect methods; reuse it for every frame that shares
/// the caption.
#[derive(Clone, PartialEq)]
pub struct Noise {
    pub(crate) resolution: u32,
    pub(crate) epsilon: f32,
    pub(crate) data: Vec<f32>,
    pub(crate) caption: String,
    pub(crate) truncated: bool,
}

impl std::fmt::Debug for Noise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Noise")
            .field("resolution", &self.resolution)
            .field("epsilon", &self.epsilon)
            .field("caption", &self.caption)
            .field("truncated", &self.truncated)
            .field("max_abs", &self.max_abs())
            .finish()
    }
}

impl Noise {
    /// Build a noise from raw values (RGB planes, row-major), e.g. one made elsewhere.
    /// Values are clamped to +-epsilon.
    pub fn from_values(resolution: u32, epsilon: f32, values: Vec<f32>, caption: impl Into<String>) -> crate::Result<Noise> {
        let r = resolution as usize;
        if resolution == 0 || values.len() != 3 * r * r {
            return Err(crate::Error::NoiseMismatch {
                reason: format!("{} values do not make a 3x{r}x{r} noise", values.len()),
            });
        }
        if !(epsilon > 0.0 && epsilon <= 0.25) {
            return Err(crate::Error::InvalidArgument { name: "epsilon", reason: format!("{epsilon} is outside (0, 0.25]") });
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(crate::Error::NoiseMismatch { reason: "values contain NaN or infinity".into() });
        }
        let data = values.into_iter().map(|v| v.clamp(-epsilon, epsilon)).collect();
        Ok(Noise { resolution, epsilon, data, caption: caption.into(), truncated: false })
    }

    /// Side R of the square noise.
    pub fn resolution(&self) -> u32 {
        self.resolution
    }
    /// The bound epsilon in [0,1] pixel units (8/255 for the shipped bundle).
    pub fn epsilon(&self) -> f32 {
        self.epsilon
    }
    /// Values, RGB planes of R x R, row-major, in [0,1] pixel units.
    pub fn values(&self) -> &[f32] {
        &self.data
    }
    /// The normalised caption it was made from.
    pub fn caption(&self) -> &str {
        &self.caption
    }
    /// True when the caption was longer than the bundle's context length and was cut.
    pub fn caption_truncated(&self) -> bool {
        self.truncated
    }
    /// Largest |delta|, in [0,1] pixel units.
    pub fn max_abs(&self) -> f32 {
        self.data.iter().fold(0.0f32, |m, v| m.max(v.abs()))
    }
    /// The noise as an 8-bit RGB picture for looking at: 128 + delta scaled so +-epsilon spans the range.
    pub fn to_visual_rgb8(&self) -> (u32, u32, Vec<u8>) {
        let r = self.resolution as usize;
        let mut out = vec![0u8; r * r * 3];
        for c in 0..3 {
            for i in 0..r * r {
                let v = self.data[c * r * r + i] / self.epsilon;
                out[i * 3 + c] = (127.5 + 127.5 * v).round().clamp(0.0, 255.0) as u8;
            }
        }
        (self.resolution, self.resolution, out)
    }
}
