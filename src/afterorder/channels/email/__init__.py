"""What only email needs: the MIME message (``mime``) a rendered email is sent as."""
