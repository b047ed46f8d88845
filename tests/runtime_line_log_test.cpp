#include <muster/runtime/line_log.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <string>

namespace {

// Writes one record through a line_log into a temporary file and returns the text written.
std::string written(const muster::log_record& record, muster::log_level level_min = muster::log_level::info) {
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    muster::runtime::line_log log(file, level_min);
    log.write(record);
    std::rewind(file);
    std::string text;
    for (int c = std::fgetc(file); c != EOF; c = std::fgetc(file)) text += static_cast<char>(c);
    std::fclose(file);
    return text;
}

}  // namespace

TEST_CASE("line log writes one line per record", "[runtime]") {
    const auto text = written({muster::log_level::warn, "app@a", "member_failed", {{"member", "app@b"}}});
    REQUIRE(text.size() > 25);
    CHECK(text[4] == '-');
    CHECK(text[10] == 'T');
    CHECK(text.substr(23, 2) == "Z ");
    CHECK(text.substr(25) == "warn app@a member_failed member=app@b\n");
}

TEST_CASE("line log quotes values with spaces", "[runtime]") {
    const auto text = written({muster::log_level::error, "app@a", "decode_failed", {{"reason", "frame is \"bad\""}, {"empty", ""}}});
    CHECK(text.substr(25) == "error app@a decode_failed reason=\"frame is \\\"bad\\\"\" empty=\"\"\n");
}

TEST_CASE("line log escapes control bytes", "[runtime]") {
    // A claimed peer name that tries to end the line and forge another record.
    const std::string forged = "x\r2026-12-05T18:00:00.000Z error app@b forged a=b\n\x1b[2J\t\\";
    const auto text = written({muster::log_level::warn, "app@a", "auth_failed", {{"peer", forged}, {"plain", "app@b"}}});
    CHECK(text.substr(25) ==
          "warn app@a auth_failed peer=\"x\\r2026-12-05T18:00:00.000Z error app@b forged a=b\\n\\x1b[2J\\t\\\\\" plain=app@b\n");
    CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    CHECK(text.find('\r') == std::string::npos);
}

TEST_CASE("line log skips levels below minimum", "[runtime]") {
    CHECK(written({muster::log_level::debug, "app@a", "link_open", {}}).empty());
    CHECK_FALSE(written({muster::log_level::debug, "app@a", "link_open", {}}, muster::log_level::debug).empty());
}

namespace {

// Returns what `file` contains, from its start.
std::string contents(std::FILE* file) {
    std::fflush(file);
    std::rewind(file);
    std::string text;
    for (int c = std::fgetc(file); c != EOF; c = std::fgetc(file)) text += static_cast<char>(c);
    std::fseek(file, 0, SEEK_END);
    return text;
}

std::size_t lines_in(const std::string& text) {
    std::size_t count = 0;
    for (const char c : text) count += c == '\n';
    return count;
}

}  // namespace

TEST_CASE("line log buffers lines until flush", "[runtime]") {
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    {
        muster::runtime::line_log log(file, muster::log_level::info, muster::runtime::log_buffering::per_flush);
        auto copy = log;
        log.write({muster::log_level::info, "app@a", "worker_started", {{"name", "counter-1"}}});
        copy.write({muster::log_level::info, "app@a", "worker_started", {{"name", "counter-2"}}});
        CHECK(contents(file).empty());

        // A copy flushes the lines of every copy, in the order they were written.
        copy.flush();
        const auto flushed = contents(file);
        CHECK(lines_in(flushed) == 2);
        CHECK(flushed.find("name=counter-1") < flushed.find("name=counter-2"));

        // A warning goes out at once, with the lines before it.
        log.write({muster::log_level::info, "app@a", "worker_started", {{"name", "counter-3"}}});
        log.write({muster::log_level::warn, "app@a", "member_failed", {{"member", "app@b"}}});
        CHECK(lines_in(contents(file)) == 4);

        log.write({muster::log_level::info, "app@a", "worker_stopped", {{"name", "counter-3"}}});
        CHECK(lines_in(contents(file)) == 4);
    }
    // The last copy writes out what is left when it is destroyed.
    const auto text = contents(file);
    CHECK(lines_in(text) == 5);
    const std::string last = "worker_stopped name=counter-3\n";
    REQUIRE(text.size() >= last.size());
    CHECK(text.compare(text.size() - last.size(), last.size(), last) == 0);
    std::fclose(file);
}

TEST_CASE("line log writes out full buffer", "[runtime]") {
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    muster::runtime::line_log log(file, muster::log_level::info, muster::runtime::log_buffering::per_flush);
    // Each line is about 110 bytes, so 64 KiB collect after about 600 lines.
    std::size_t written = 0;
    for (int i = 0; i < 2000 && contents(file).empty(); ++i, ++written)
        log.write({muster::log_level::info, "app@a", "worker_started", {{"name", "counter-" + std::to_string(i)}, {"pad", std::string(40, 'p')}}});
    const auto text = contents(file);
    REQUIRE_FALSE(text.empty());
    CHECK(written < 2000);
    CHECK(text.size() >= 64 * 1024);
    CHECK(text.back() == '\n');
    CHECK(lines_in(text) == written);
    std::fclose(file);
}
