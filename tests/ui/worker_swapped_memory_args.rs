use parallelizer::prelude::*;

pub struct Params {
    pub scale: f64,
}

pub struct Camera {
    pub zoom: f64,
}

#[task(packet = (f64,), memory = Params, args = Camera)]
pub struct Terrain;

// Memory and args swapped: each is reported on its own parameter, saying
// what that position takes.
#[worker(Terrain)]
fn terrain(task_id: usize, camera: &Camera, params: &Params) -> (f64,) {
    (task_id as f64 * params.scale * camera.zoom,)
}

fn main() {}
