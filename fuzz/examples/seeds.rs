//! Writes a valid input of each fuzz target to `<dir>/<target>/seed`, the corpus libFuzzer
//! starts from (`scripts/fuzz.sh`).

fn main() {
	let dir = std::env::args().nth(1).expect("usage: seeds <corpus dir>");
	for (target, seed) in keyorch_fuzz::seeds() {
		let target_dir = std::path::Path::new(&dir).join(target);
		std::fs::create_dir_all(&target_dir).expect("a corpus directory");
		std::fs::write(target_dir.join("seed"), seed).expect("the seed written");
	}
}
