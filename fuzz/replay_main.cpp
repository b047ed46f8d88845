// A deterministic stand-in for libFuzzer's driver, for compilers without libFuzzer: it runs the
// entry point on every file of a corpus folder, then on a fixed number of inputs made by seeded
// random mutations of those files. The same seed gives the same inputs on every machine.
//
// Usage: muster-fuzz-replay CORPUS_DIR [--mutations N] [--seed S]

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

// splitmix64: small, fast and fully determined by its seed.
class random_source {
public:
    explicit random_source(std::uint64_t seed) : state_(seed) {}

    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
        z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
        return z ^ (z >> 31);
    }

    // A value in [0, bound); bound must be positive.
    std::size_t below(std::size_t bound) { return static_cast<std::size_t>(next() % bound); }

private:
    std::uint64_t state_;
};

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Applies one to four random edits: bit flips, byte changes, inserts, deletes, cuts, copies of a
// slice, and splices with another corpus input. Byte values near the limits come often, since
// they reach the range checks.
void mutate(std::vector<std::uint8_t>& input, const std::vector<std::vector<std::uint8_t>>& corpus,
            random_source& random) {
    static constexpr std::uint8_t interesting[] = {0, 1, 2, 0x3f, 0x40, 0x7f, 0x80, 0xfe, 0xff};
    const std::size_t edits = 1 + random.below(4);
    for (std::size_t i = 0; i < edits; ++i) {
        const std::size_t at = input.empty() ? 0 : random.below(input.size());
        switch (random.below(7)) {
        case 0:
            if (!input.empty()) input[at] ^= static_cast<std::uint8_t>(1u << random.below(8));
            break;
        case 1:
            if (!input.empty()) input[at] = interesting[random.below(std::size(interesting))];
            break;
        case 2: input.insert(input.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(random.next())); break;
        case 3:
            if (!input.empty()) input.erase(input.begin() + static_cast<std::ptrdiff_t>(at));
            break;
        case 4: input.resize(at); break;
        case 5:
            if (!input.empty()) {
                const std::size_t length = 1 + random.below(std::min<std::size_t>(input.size() - at, 16));
                const std::vector<std::uint8_t> slice(input.begin() + static_cast<std::ptrdiff_t>(at),
                                                      input.begin() + static_cast<std::ptrdiff_t>(at + length));
                input.insert(input.begin() + static_cast<std::ptrdiff_t>(random.below(input.size() + 1)), slice.begin(),
                             slice.end());
            }
            break;
        default: {
            const auto& other = corpus[random.below(corpus.size())];
            input.resize(at);
            const std::size_t from = other.empty() ? 0 : random.below(other.size());
            input.insert(input.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
            break;
        }
        }
    }
}

int usage() {
    std::fputs("usage: muster-fuzz-replay CORPUS_DIR [--mutations N] [--seed S]\n"
               "  --mutations N  mutated inputs to run after the corpus (default 20000)\n"
               "  --seed S       seed of the mutations (default 1)\n",
               stderr);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    const std::filesystem::path folder = argv[1];
    std::uint64_t mutations = 20000;
    std::uint64_t seed = 1;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string_view option = argv[i];
        const std::uint64_t value = std::strtoull(argv[i + 1], nullptr, 10);
        if (option == "--mutations") mutations = value;
        else if (option == "--seed") seed = value;
        else return usage();
    }
    if (argc % 2 != 0) return usage();

    std::error_code error;
    std::vector<std::filesystem::path> paths;
    for (const auto& entry : std::filesystem::directory_iterator(folder, error))
        if (entry.is_regular_file()) paths.push_back(entry.path());
    if (error || paths.empty()) {
        std::fprintf(stderr, "muster-fuzz-replay: no corpus files found in %s; pass the folder fuzz/corpus\n",
                     folder.string().c_str());
        return 2;
    }
    std::sort(paths.begin(), paths.end());

    const auto start = std::chrono::steady_clock::now();
    std::vector<std::vector<std::uint8_t>> corpus;
    for (const auto& path : paths) {
        corpus.push_back(read_file(path));
        LLVMFuzzerTestOneInput(corpus.back().data(), corpus.back().size());
    }

    random_source random(seed);
    for (std::uint64_t i = 0; i < mutations; ++i) {
        std::vector<std::uint8_t> input = corpus[random.below(corpus.size())];
        mutate(input, corpus, random);
        LLVMFuzzerTestOneInput(input.data(), input.size());
    }

    const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("muster-fuzz-replay: %zu corpus files and %llu mutations (seed %llu) passed in %.2f s\n",
                corpus.size(), static_cast<unsigned long long>(mutations), static_cast<unsigned long long>(seed),
                elapsed);
    return 0;
}
