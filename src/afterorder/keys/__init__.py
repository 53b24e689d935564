"""Keys and secrets: sealing values with the installation's key (``sealing``), the secrets stored in
the database and their rotation (``stored``), and each store's link signer (``signers``)."""
