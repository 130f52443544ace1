use parallelizer::prelude::*;

// `Task` is sealed: only `#[task]` implements it.
pub struct ByHand;

impl Task for ByHand {
    type Output = (u16,);
    type Packet = [u8; 2];
    type Memory = ();
    type Args = ();

    const NAME: &'static str = "ByHand";
    const PACKET_SIZE: usize = 2;
    const HAS_MEMORY: bool = false;
    const FIELD_TYPES: &'static [&'static str] = &["u16"];
    const FIELD_SIZES: &'static [usize] = &[2];

    fn encode(output: Self::Output) -> Self::Packet {
        output.0.to_le_bytes()
    }

    fn decode(packet: &Self::Packet) -> Self::Output {
        (u16::from_le_bytes(*packet),)
    }

    fn validate(_packet: &Self::Packet) -> Result<(), parallelizer::FieldError> {
        Ok(())
    }
}

fn main() {}
