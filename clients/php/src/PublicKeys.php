<?php

declare(strict_types=1);

namespace Kassagate;

use Kassagate\Exception\KeysError;

/**
 * The server's published keys (GET /v1/keys): two RSA public keys and two HMAC keys.
 * The HMAC keys are public by design of the protocol: they catch corruption, not forgery.
 */
final class PublicKeys
{
    private function __construct(
        public readonly \OpenSSLAsymmetricKey $rsaFirst,
        public readonly string $hmacFirst,
        public readonly \OpenSSLAsymmetricKey $rsaSecond,
        public readonly string $hmacSecond,
        /** SHA-256 fingerprints ("sha256//" + base64) of the two RSA keys, first then second. */
        public readonly array $fingerprints,
    ) {
    }

    /**
     * From the answer of GET /v1/keys (a decoded array, or its JSON text), also what
     * `kassagate keys show` prints. Fields other than the four keys are ignored.
     *
     * @param array<string, mixed>|string $keys
     */
    public static function fromJson(array|string $keys): self
    {
        if (is_string($keys)) {
            try {
                $keys = json_decode($keys, true, 16, JSON_THROW_ON_ERROR);
            } catch (\JsonException $e) {
                throw new KeysError('the keys are not JSON: ' . $e->getMessage());
            }
            if (!is_array($keys) || array_is_list($keys)) {
                throw new KeysError('the keys are not a JSON object');
            }
        }
        $rsa = [];
        $fingerprints = [];
        foreach (['rsa_first', 'rsa_second'] as $name) {
            $pem = $keys[$name] ?? null;
            if (!is_string($pem)) {
                throw new KeysError("$name: expected a PEM string");
            }
            [$rsa[$name], $fingerprints[]] = self::loadRsa($name, $pem);
        }
        $hmac = [];
        foreach (['hmac_first', 'hmac_second'] as $name) {
            $text = $keys[$name] ?? null;
            if (!is_string($text)) {
                throw new KeysError("$name: expected a base64 string");
            }
            $raw = base64_decode($text, true);
            if ($raw === false) {
                throw new KeysError("$name: not base64");
            }
            if ($raw === '') {
                throw new KeysError("$name: empty key");
            }
            $hmac[$name] = $raw;
        }
        return new self($rsa['rsa_first'], $hmac['hmac_first'], $rsa['rsa_second'], $hmac['hmac_second'], $fingerprints);
    }

    /**
     * The pin of an RSA public key: "sha256//" + base64(SHA-256(DER SubjectPublicKeyInfo)),
     * the form curl's --pinnedpubkey uses. From a shell:
     * `openssl pkey -pubin -in rsa_first.pem -outform der | openssl dgst -sha256 -binary | base64`.
     */
    public static function fingerprint(string $pem): string
    {
        return self::loadRsa('key', $pem)[1];
    }

    /**
     * Whether both RSA keys have a fingerprint in $pins.
     *
     * @param list<string> $pins
     */
    public function matchesPins(array $pins): bool
    {
        return array_diff($this->fingerprints, $pins) === [];
    }

    public function equals(self $other): bool
    {
        return $this->fingerprints === $other->fingerprints
            && hash_equals($this->hmacFirst, $other->hmacFirst)
            && hash_equals($this->hmacSecond, $other->hmacSecond);
    }

    /**
     * @return array{0: \OpenSSLAsymmetricKey, 1: string}
     */
    private static function loadRsa(string $name, string $pem): array
    {
        $key = openssl_pkey_get_public($pem);
        if ($key === false) {
            while (openssl_error_string() !== false) {
                // drain OpenSSL's error queue: later calls must not report this failure
            }
            throw new KeysError("$name: not a PEM public key");
        }
        $details = openssl_pkey_get_details($key);
        if ($details === false || ($details['type'] ?? null) !== OPENSSL_KEYTYPE_RSA) {
            throw new KeysError("$name: expected an RSA public key");
        }
        $body = preg_replace('/-----[A-Z ]+-----|\s+/', '', (string) $details['key']);
        $der = base64_decode((string) $body, true);
        if ($der === false) {
            throw new KeysError("$name: the key cannot be exported");
        }
        return [$key, 'sha256//' . base64_encode(hash('sha256', $der, true))];
    }

    /**
     * @return array<string, string>
     */
    public function __debugInfo(): array
    {
        return ['fingerprints' => implode(', ', $this->fingerprints)];
    }
}
