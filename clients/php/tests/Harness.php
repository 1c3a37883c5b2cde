<?php

declare(strict_types=1);

namespace Kassagate\Tests;

/**
 * A small self-contained test runner: tests are closures registered by name; a test fails
 * by throwing. run() prints each failure and ends with the line "N passed, N failed".
 */
final class Harness
{
    /** @var array<string, callable> */
    private array $tests = [];
    /** @var array<string, string> */
    private array $skipped = [];

    public function test(string $name, callable $body): void
    {
        if (isset($this->tests[$name])) {
            throw new \LogicException("two tests named '$name'");
        }
        $this->tests[$name] = $body;
    }

    public function skip(string $name, string $reason): void
    {
        $this->skipped[$name] = $reason;
    }

    public function run(?string $filter = null): int
    {
        $passed = 0;
        $failed = 0;
        foreach ($this->tests as $name => $body) {
            if ($filter !== null && !str_contains($name, $filter)) {
                continue;
            }
            $started = microtime(true);
            try {
                $body();
                $passed++;
                printf("ok   %s (%.2f s)\n", $name, microtime(true) - $started);
            } catch (\Throwable $e) {
                $failed++;
                printf("FAIL %s\n     %s: %s\n     at %s:%d\n", $name, get_class($e), $e->getMessage(), $e->getFile(), $e->getLine());
            }
        }
        foreach ($this->skipped as $name => $reason) {
            printf("skip %s: %s\n", $name, $reason);
        }
        if ($this->skipped !== []) {
            printf("%d skipped\n", count($this->skipped));
        }
        printf("%d passed, %d failed\n", $passed, $failed);
        return $failed === 0 ? 0 : 1;
    }
}

final class AssertionFailed extends \Exception
{
}

function check(bool $condition, string $message): void
{
    if (!$condition) {
        throw new AssertionFailed($message);
    }
}

function same(mixed $expected, mixed $actual, string $what = 'value'): void
{
    if ($expected !== $actual) {
        throw new AssertionFailed(sprintf('%s: expected %s, got %s', $what, var_export($expected, true), var_export($actual, true)));
    }
}

/**
 * Run $body, which must throw a $class; returns the exception.
 *
 * @template T of \Throwable
 * @param class-string<T> $class
 * @return T
 */
function throws(string $class, callable $body): \Throwable
{
    try {
        $body();
    } catch (\Throwable $e) {
        if ($e instanceof $class) {
            return $e;
        }
        throw new AssertionFailed(sprintf('expected %s, got %s: %s', $class, get_class($e), $e->getMessage()));
    }
    throw new AssertionFailed("expected $class, nothing was thrown");
}
