<?php

declare(strict_types=1);

namespace Kassagate;

use Kassagate\Exception\KassagateException;
use Kassagate\Exception\KeysError;

/**
 * The double envelope of the front protocol. Each layer is a hybrid encryption of a
 * UTF-8 JSON text P:
 *
 * 1. K = 32 random bytes (AES-256 key), IV = 16 random bytes;
 * 2. C = AES-256-CTR(K, P), IV as the full 128-bit initial counter block, no padding;
 * 3. M = HMAC-SHA512(the layer's HMAC key, IV . C), 64 bytes;
 * 4. data = base64(M . IV . C);
 * 5. key = base64(RSA-OAEP(the layer's RSA public key, K)), OAEP with SHA-1 and MGF1-SHA-1.
 *
 * Layer 1 carries the receipt ("ab" key, "de" data; first key pair), layer 2 carries
 * ab, de and the account ("aab", "dde"; second key pair). The wire body is
 * {"aab": ..., "dde": ..., "test": "0"}.
 */
final class Envelope
{
    public const AES_KEY_BYTES = 32;
    public const IV_BYTES = 16;
    public const HMAC_BYTES = 64;
    private const CIPHER = 'aes-256-ctr';
    /** Layer 2's check_type as existing clients send it. */
    public const CHECK_TYPE = 'standart';

    /**
     * Compact UTF-8 JSON, non-ASCII and slashes unescaped.
     */
    public static function encodeJson(mixed $value): string
    {
        return json_encode($value, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
    }

    /**
     * One layer: returns [key_b64, data_b64]. $aesKey and $iv default to fresh random bytes.
     *
     * @return array{0: string, 1: string}
     */
    public static function encryptLayer(
        string $plaintext,
        \OpenSSLAsymmetricKey $rsaPublic,
        string $hmacKey,
        ?string $aesKey = null,
        ?string $iv = null,
    ): array {
        $k = $aesKey ?? random_bytes(self::AES_KEY_BYTES);
        $nonce = $iv ?? random_bytes(self::IV_BYTES);
        if (strlen($k) !== self::AES_KEY_BYTES || strlen($nonce) !== self::IV_BYTES) {
            throw new \InvalidArgumentException('the AES key must be 32 bytes and the IV 16 bytes');
        }
        $ciphertext = openssl_encrypt($plaintext, self::CIPHER, $k, OPENSSL_RAW_DATA, $nonce);
        if ($ciphertext === false) {
            throw new KassagateException('AES-256-CTR encryption failed: ' . self::opensslErrors());
        }
        $mac = hash_hmac('sha512', $nonce . $ciphertext, $hmacKey, true);
        if (!openssl_public_encrypt($k, $wrapped, $rsaPublic, OPENSSL_PKCS1_OAEP_PADDING)) {
            throw new KeysError('RSA-OAEP encryption failed: ' . self::opensslErrors());
        }
        return [base64_encode($wrapped), base64_encode($mac . $nonce . $ciphertext)];
    }

    /**
     * The inverse of encryptLayer() with the layer's private key: what the server does with
     * a layer. For tests and for test doubles of a front server; the client itself never
     * decrypts (the server's answers are plain JSON). Throws \UnexpectedValueException
     * naming the step that failed (base64, RSA, HMAC).
     */
    public static function openLayer(
        string $keyB64,
        string $dataB64,
        \OpenSSLAsymmetricKey $rsaPrivate,
        string $hmacKey,
    ): string {
        $wrapped = base64_decode($keyB64, true);
        $data = base64_decode($dataB64, true);
        if ($wrapped === false || $data === false) {
            throw new \UnexpectedValueException('not base64');
        }
        if (strlen($data) < self::HMAC_BYTES + self::IV_BYTES) {
            throw new \UnexpectedValueException('data shorter than HMAC and IV');
        }
        if (!openssl_private_decrypt($wrapped, $k, $rsaPrivate, OPENSSL_PKCS1_OAEP_PADDING)) {
            self::opensslErrors();
            throw new \UnexpectedValueException('RSA decryption failed');
        }
        if (strlen($k) !== self::AES_KEY_BYTES) {
            throw new \UnexpectedValueException('the wrapped AES key is not 32 bytes');
        }
        $mac = substr($data, 0, self::HMAC_BYTES);
        $nonce = substr($data, self::HMAC_BYTES, self::IV_BYTES);
        $ciphertext = substr($data, self::HMAC_BYTES + self::IV_BYTES);
        if (!hash_equals(hash_hmac('sha512', $nonce . $ciphertext, $hmacKey, true), $mac)) {
            throw new \UnexpectedValueException('HMAC does not verify');
        }
        $plaintext = openssl_decrypt($ciphertext, self::CIPHER, $k, OPENSSL_RAW_DATA, $nonce);
        if ($plaintext === false) {
            throw new \UnexpectedValueException('AES-256-CTR decryption failed: ' . self::opensslErrors());
        }
        return $plaintext;
    }

    /**
     * The layer 2 object. In cluster mode $kassaid/$token are the cluster's id and token;
     * $rid is left out when null.
     *
     * @return array<string, string>
     */
    public static function layer2(
        string $ab,
        string $de,
        string $kassaid,
        #[\SensitiveParameter] string $token,
        ?string $rid = null,
        bool $test = false,
        string $checkType = self::CHECK_TYPE,
    ): array {
        $payload = [
            'ab' => $ab,
            'de' => $de,
            'kassaid' => $kassaid,
            'kassatoken' => $token,
            'check_type' => $checkType,
            'test' => $test ? '1' : '0',
        ];
        if ($rid !== null) {
            $payload['rid'] = $rid;
        }
        return $payload;
    }

    /**
     * The whole wire body for a receipt in its wire form (kassaid and kassatoken filled in).
     *
     * @param array<string, mixed> $receipt
     * @return array{aab: string, dde: string, test: string}
     */
    public static function seal(
        #[\SensitiveParameter] array $receipt,
        PublicKeys $keys,
        string $kassaid,
        #[\SensitiveParameter] string $token,
        ?string $rid = null,
        bool $test = false,
    ): array {
        [$ab, $de] = self::encryptLayer(self::encodeJson($receipt), $keys->rsaFirst, $keys->hmacFirst);
        $layer2 = self::layer2($ab, $de, $kassaid, $token, $rid, $test);
        [$aab, $dde] = self::encryptLayer(self::encodeJson($layer2), $keys->rsaSecond, $keys->hmacSecond);
        return ['aab' => $aab, 'dde' => $dde, 'test' => $test ? '1' : '0'];
    }

    private static function opensslErrors(): string
    {
        $errors = [];
        while (($e = openssl_error_string()) !== false) {
            $errors[] = $e;
        }
        return $errors === [] ? 'no detail' : implode('; ', $errors);
    }
}
